using Google.Protobuf;
using Onnx;

namespace DinoFlow.Inference;

/// <summary>Reads the opsets a model imports (ModelProto.opset_import) without parsing its graph and weights.</summary>
public static class OnnxOpsetReader
{
    /// <summary>The default domain's ("" or "ai.onnx") opset; null when the model imports none or the bytes are not a model (ONNX Runtime names that when it loads them).</summary>
    public static int? DefaultDomain(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            return Scan(model);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    private static int? Scan(byte[] model)
    {
        var input = new CodedInputStream(model);
        int? opset = null;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == ModelProto.OpsetImportFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                var import = OperatorSetIdProto.Parser.ParseFrom(input.ReadBytes());
                if (import.Domain is "" or "ai.onnx") opset = (int)import.Version;
            }
            else
            {
                input.SkipLastField(); // the graph and its weights: skipped, not parsed
            }
        }

        return opset;
    }
}
