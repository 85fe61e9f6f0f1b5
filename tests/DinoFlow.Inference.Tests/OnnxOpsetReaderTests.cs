using Google.Protobuf;
using Onnx;

namespace DinoFlow.Inference.Tests;

/// <summary>model.json's onnxOpset comes from the graph's own opset_import, read without parsing the weights.</summary>
public sealed class OnnxOpsetReaderTests
{
    [Fact]
    public void The_default_domain_opset_is_read_past_the_graph_and_other_domains()
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        model.Graph = new GraphProto { Name = "g" };
        model.Graph.Initializer.Add(new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(new byte[1 << 20]) });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });

        Assert.Equal(17, OnnxOpsetReader.DefaultDomain(model.ToByteArray()));
        model.OpsetImport[1].Domain = "ai.onnx";
        Assert.Equal(17, OnnxOpsetReader.DefaultDomain(model.ToByteArray()));
    }

    [Fact]
    public void A_model_without_a_default_domain_or_bytes_that_are_no_model_have_no_opset()
    {
        var model = new ModelProto { IrVersion = 8 };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });

        Assert.Null(OnnxOpsetReader.DefaultDomain(model.ToByteArray()));
        Assert.Null(OnnxOpsetReader.DefaultDomain([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]));
    }
}
