#!/usr/bin/env python3
"""GPU check of a DinoFlow model package: FP32 and FP16 on a CUDA GPU against ONNX Runtime on the CPU, on real frames.

    gpu_check.py PACKAGE_DIR VIDEO [--frames N] [--out RESULT.json]

What it measures, side by side in one run, on the package's own model.onnx:
- ONNX Runtime on the CPU (the reference: what `dinoflow predict` and the edge run on a CPU), batch 1 and 8;
- the same graph on the GPU in FP32 and FP16 (batch 1, 8 and 32), frames per second of model time;
- FP16 parity against the CPU reference on the video's frames: top-1 agreement and the largest probability difference.

Why not ONNX Runtime's CUDA and TensorRT providers: the lent GPU machine has no .NET and no onnxruntime-gpu, and their
native libraries are larger than what may be carried there. The graph is therefore executed node by node with PyTorch
(torch.nn.functional, one function per ONNX operator DinoFlow's graphs use); an operator it does not know stops the
check naming it, so nothing is silently approximated. The input is each frame resized to the model's square input in
the package's preprocessing as model.json gives it (crop, area resize, colour order, mean and std, CHW), as the C#
preprocessor does it.
"""

import argparse
import json
import sys
import time

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pads_2d(pads):
    # ONNX: [top, left, bottom, right]; F.pad: (left, right, top, bottom)
    return (pads[1], pads[3], pads[0], pads[2])


class TorchGraph:
    """Runs an ONNX graph with PyTorch on one device and dtype."""

    def __init__(self, model, device, dtype):
        self.graph = model.graph
        self.device = device
        self.dtype = dtype
        self.consts = {}
        for init in self.graph.initializer:
            array = numpy_helper.to_array(init)
            tensor = torch.from_numpy(array.copy()).to(device)
            self.consts[init.name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        self.inputs = [i.name for i in self.graph.input if i.name not in self.consts]
        self.outputs = [o.name for o in self.graph.output]

    def cast(self, t):
        return t.to(self.dtype) if t.is_floating_point() else t

    @torch.no_grad()
    def run(self, x):
        env = dict(self.consts)
        env[self.inputs[0]] = self.cast(x.to(self.device))
        for node in self.graph.node:
            ins = [env[n] if n else None for n in node.input]
            outs = self.op(node, ins)
            for name, value in zip(node.output, outs if isinstance(outs, (list, tuple)) else [outs]):
                env[name] = value
        return [env[o] for o in self.outputs]

    def op(self, node, x):
        a = attrs(node)
        t = node.op_type
        if t == "Conv":
            w = x[1]
            b = x[2] if len(x) > 2 else None
            strides = a.get("strides", [1, 1])
            dil = a.get("dilations", [1, 1])
            group = a.get("group", 1)
            pads = a.get("pads", [0, 0, 0, 0])
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise NotImplementedError("Conv auto_pad")
            inp = x[0]
            if pads[0] == pads[2] and pads[1] == pads[3]:
                return F.conv2d(inp, w, b, strides, (pads[0], pads[1]), dil, group)
            return F.conv2d(F.pad(inp, pads_2d(pads)), w, b, strides, 0, dil, group)
        if t == "Relu":
            return F.relu(x[0])
        if t == "LeakyRelu":
            return F.leaky_relu(x[0], a.get("alpha", 0.01))
        if t == "Sigmoid":
            return torch.sigmoid(x[0])
        if t == "MaxPool":
            pads = a.get("pads", [0, 0, 0, 0])
            inp = x[0]
            if pads[0] != pads[2] or pads[1] != pads[3]:
                inp = F.pad(inp, pads_2d(pads), value=float("-inf"))
                pads = [0, 0, 0, 0]
            return F.max_pool2d(inp, a["kernel_shape"], a.get("strides", a["kernel_shape"]), (pads[0], pads[1]), ceil_mode=bool(a.get("ceil_mode", 0)))
        if t == "AveragePool":
            pads = a.get("pads", [0, 0, 0, 0])
            return F.avg_pool2d(x[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (pads[0], pads[1]),
                                ceil_mode=bool(a.get("ceil_mode", 0)), count_include_pad=bool(a.get("count_include_pad", 0)))
        if t == "GlobalAveragePool":
            return x[0].mean(dim=(2, 3), keepdim=True)
        if t == "GlobalMaxPool":
            return x[0].amax(dim=(2, 3), keepdim=True)
        if t == "BatchNormalization":
            return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
        if t == "Add":
            return x[0] + x[1]
        if t == "Sub":
            return x[0] - x[1]
        if t == "Mul":
            return x[0] * x[1]
        if t == "Div":
            return x[0] / x[1]
        if t == "Sqrt":
            return torch.sqrt(x[0])
        if t == "Exp":
            return torch.exp(x[0])
        if t == "Log":
            return torch.log(x[0])
        if t == "Neg":
            return -x[0]
        if t == "Pow":
            return torch.pow(x[0], x[1])
        if t == "ReduceSum":
            axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
            return x[0].sum(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1))) if axes else x[0].sum()
        if t == "ReduceMean":
            axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
            return x[0].mean(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
        if t == "ReduceMax":
            axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
            return x[0].amax(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
        if t == "ReduceLogSumExp":
            axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
            return torch.logsumexp(x[0], dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
        if t == "Max":
            out = x[0]
            for other in x[1:]:
                out = torch.maximum(out, other)
            return out
        if t == "Min":
            out = x[0]
            for other in x[1:]:
                out = torch.minimum(out, other)
            return out
        if t == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min")
            hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max")
            return torch.clamp(x[0], lo, hi)
        if t == "Flatten":
            axis = a.get("axis", 1)
            return x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        if t == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            B = x[1].T if a.get("transB", 0) else x[1]
            out = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None:
                out = out + a.get("beta", 1.0) * x[2]
            return out
        if t == "MatMul":
            return x[0] @ x[1]
        if t == "Softmax":
            return torch.softmax(x[0].float(), dim=a.get("axis", -1)).to(x[0].dtype)
        if t == "ArgMax":
            return torch.argmax(x[0], dim=a.get("axis", 0), keepdim=bool(a.get("keepdims", 1)))
        if t == "Reshape":
            shape = [int(s) for s in x[1].tolist()]
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            return x[0].reshape(shape)
        if t == "Transpose":
            return x[0].permute(*a["perm"])
        if t == "Squeeze":
            axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
            out = x[0]
            for axis in sorted(axes or [], reverse=True):
                out = out.squeeze(axis)
            return out if axes else x[0].squeeze()
        if t == "Unsqueeze":
            axes = a.get("axes") or x[1].tolist()
            out = x[0]
            for axis in sorted(axes):
                out = out.unsqueeze(axis)
            return out
        if t == "Concat":
            return torch.cat(x, dim=a["axis"])
        if t == "Identity" or t == "Dropout":
            return x[0]
        if t == "Constant":
            value = numpy_helper.to_array(a["value"])
            tensor = torch.from_numpy(value.copy()).to(self.device)
            return self.cast(tensor)
        if t == "Shape":
            return torch.tensor(list(x[0].shape), dtype=torch.int64, device=self.device)
        if t == "Gather":
            return torch.index_select(x[0], a.get("axis", 0), x[1].reshape(-1).long()).reshape(
                list(x[0].shape[:a.get("axis", 0)]) + list(x[1].shape) + list(x[0].shape[a.get("axis", 0) + 1:]))
        if t == "Slice":
            starts, ends = x[1].tolist(), x[2].tolist()
            axes = x[3].tolist() if len(x) > 3 and x[3] is not None else list(range(len(starts)))
            steps = x[4].tolist() if len(x) > 4 and x[4] is not None else [1] * len(starts)
            index = [slice(None)] * x[0].dim()
            for s, e, ax, st in zip(starts, ends, axes, steps):
                index[ax] = slice(s, min(e, x[0].shape[ax]), st)
            return x[0][tuple(index)]
        if t == "Cast":
            to = {1: torch.float32, 10: torch.float16, 11: torch.float64, 6: torch.int32, 7: torch.int64, 9: torch.bool}[a["to"]]
            return self.cast(x[0].to(to)) if to.is_floating_point else x[0].to(to)
        if t == "Resize":
            sizes = x[3] if len(x) > 3 and x[3] is not None else None
            mode = a.get("mode", b"nearest")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            size = [int(s) for s in sizes.tolist()[2:]] if sizes is not None else None
            scale = None if size else [float(s) for s in x[2].tolist()[2:]]
            return F.interpolate(x[0], size=size, scale_factor=scale, mode="bilinear" if mode == "linear" else mode, align_corners=False if mode == "linear" else None)
        if t == "Pad":
            pads = x[1].tolist() if len(x) > 1 and x[1] is not None else a["pads"]
            n = len(pads) // 2
            torch_pads = []
            for i in reversed(range(n)):
                torch_pads += [pads[i], pads[i + n]]
            return F.pad(x[0], torch_pads)
        raise NotImplementedError(f"ONNX operator {t} (node {node.name})")


def frames(video, preprocess, count):
    """The package's preprocessing (pipeline/DinoFlow.Pipeline/Models/Preprocessing.cs): a centre square crop when
    squareCrop is set, area resize to the input size, the colour order, (pixel - mean) / std, CHW float32."""
    width, height = preprocess["width"], preprocess["height"]
    mean = np.array(preprocess.get("mean", [0, 0, 0]), dtype=np.float32)
    std = np.array(preprocess.get("std", [1, 1, 1]), dtype=np.float32)
    capture = cv2.VideoCapture(video)
    out = []
    while len(out) < count:
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
            if not ok:
                break
        h, w = frame.shape[:2]
        if preprocess.get("squareCrop", True):
            side = min(h, w)
            frame = frame[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        if str(preprocess.get("colorOrder", "BGR")).upper() == "RGB":
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        tensor = (frame.astype(np.float32) - mean) / std
        out.append(tensor.transpose(2, 0, 1))
    if not out:
        raise SystemExit(f"{video}: no frame could be read")
    return np.ascontiguousarray(np.stack(out))


def time_fps(run, batches, warmup=3, minimum=2.0):
    for batch in batches[:warmup]:
        run(batch)
    done, images, start = 0, 0, time.perf_counter()
    while True:
        batch = batches[done % len(batches)]
        run(batch)
        done += 1
        images += len(batch)
        elapsed = time.perf_counter() - start
        if elapsed >= minimum and done >= len(batches):
            return images / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("package")
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--out")
    args = parser.parse_args()

    manifest = json.load(open(f"{args.package}/model.json"))
    model = onnx.load(f"{args.package}/model.onnx")
    graph_input = [i for i in model.graph.input if i.name not in {init.name for init in model.graph.initializer}][0]
    dims = [d.dim_value or d.dim_param for d in graph_input.type.tensor_type.shape.dim]
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"graph: input {graph_input.name} {dims}, {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, operators {ops}", flush=True)
    tensor = frames(args.video, manifest["preprocess"], args.frames)

    options = ort.SessionOptions()
    cpu = ort.InferenceSession(f"{args.package}/model.onnx", options, providers=["CPUExecutionProvider"])
    out_name = cpu.get_outputs()[0].name
    reference = np.concatenate([cpu.run([out_name], {graph_input.name: tensor[i:i + 1]})[0] for i in range(len(tensor))])

    result = {"card": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "frames": len(tensor),
              "input": dims, "operators": ops, "cpuThreads": torch.get_num_threads(), "fps": {}}
    batch = lambda n: [tensor[i:i + n] for i in range(0, len(tensor) - n + 1, n)] or [tensor[:n]]
    result["fps"]["ort-cpu-b1"] = time_fps(lambda b: cpu.run([out_name], {graph_input.name: b}), batch(1))
    try:
        result["fps"]["ort-cpu-b8"] = time_fps(lambda b: cpu.run([out_name], {graph_input.name: b}), batch(8))
    except Exception as e:  # a graph fixed at batch 1
        result["fps"]["ort-cpu-b8"] = f"not run: {e.__class__.__name__}"

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    for name, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        graph = TorchGraph(model, "cuda", dtype)
        probabilities = torch.cat([graph.run(torch.from_numpy(tensor[i:i + 1]))[0].float().cpu() for i in range(len(tensor))]).numpy()
        agree = float((probabilities.argmax(1) == reference.argmax(1)).mean())
        result[name] = {"top1AgreementWithCpu": agree, "maxProbabilityDifference": float(np.abs(probabilities - reference).max())}
        for n in (1, 8, 32):
            gpu_batches = [torch.from_numpy(b).cuda() for b in batch(n)]

            def step(b, graph=graph):
                graph.run(b)
                torch.cuda.synchronize()
            try:
                result["fps"][f"torch-cuda-{name}-b{n}"] = time_fps(step, gpu_batches)
            except Exception as e:
                result["fps"][f"torch-cuda-{name}-b{n}"] = f"not run: {e.__class__.__name__}: {e}"
        print(json.dumps({name: result[name]}), flush=True)

    result["fps"] = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in result["fps"].items()}
    print(json.dumps(result, indent=1))
    if args.out:
        json.dump(result, open(args.out, "w"), indent=1)
    fp16 = result["fp16"]
    best = max(v for k, v in result["fps"].items() if k.startswith("torch-cuda-fp16") and isinstance(v, float))
    print(f"gpu check: card={result['card']} fp16-top1-agreement={fp16['top1AgreementWithCpu']:.3f} "
          f"fp16-max-prob-diff={fp16['maxProbabilityDifference']:.4f} fp16-fps={best:.1f} cpu-fps={result['fps']['ort-cpu-b1']:.1f}")
    return 0 if fp16["top1AgreementWithCpu"] >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
