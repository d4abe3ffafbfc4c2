"""``restyle export SOURCE --onnx OUT.onnx [--fp16] [--int8] [--trt]``: checked ONNX files and
engines."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from restyle.cli.quantize import add_int8_options, write_int8_report
from restyle.cli.registry import command

log = logging.getLogger("restyle.cli")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="a run folder (restyle train --out), a .safetensors checkpoint, or a "
                        "restyle .onnx model to re-export")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--fp16", action="store_true",
                   help="mixed-precision FP16 (InstanceNorm stays FP32), gated at 40 dB PSNR "
                        "against FP32 on photos")
    q = p.add_argument_group("int8 (needs restyle[int8]): also write OUT.int8.onnx, gated by PSNR")
    q.add_argument("--int8", action="store_true",
                   help="also write an int8 model beside the ONNX file (as `restyle quantize`)")
    add_int8_options(q)
    p.add_argument("--float32-nchw", action="store_true",
                   help="float32 NCHW [0, 1] I/O instead of uint8 NHWC")
    p.add_argument("--style-name", help="style name to record (default: the checkpoint's)")
    p.add_argument("--description", help="one line describing the style")
    p.add_argument("--attribution", help="where the style image(s) came from")
    p.add_argument("--license", help="licence of the model and its style images")
    p.add_argument("--no-fold", action="store_true",
                   help="keep upsample + convolution pairs as they are (default: fold each into "
                        "one exact transposed convolution, 2.25x fewer multiply-adds there)")
    p.add_argument("--check-shapes", metavar="NxHxW,...",
                   help="shapes at which ONNX Runtime must match PyTorch (default: 1 and 3 × "
                        "64x64, 333x517, 720x1280)")
    trt = p.add_argument_group("TensorRT (needs TensorRT 10/11 and an NVIDIA GPU)")
    trt.add_argument("--trt", action="store_true", help="also build a TensorRT engine")
    trt.add_argument("--precision", choices=("auto", "fp16", "fp32"), default="auto",
                     help="engine precision; auto (default) builds FP16 kernels, as "
                          "Stylizer(precision='auto') does on TensorRT")
    trt.add_argument("--engine", metavar="OUT.engine",
                     help="where to write the engine (default: the user engine cache)")
    trt.add_argument("--min", default="1x256x256", metavar="NxHxW", help="smallest input")
    trt.add_argument("--opt", default="4x720x1280", metavar="NxHxW", help="input to tune for")
    trt.add_argument("--max", default="16x1080x1920", metavar="NxHxW", help="largest input")
    trt.add_argument("--workspace-gib", type=float, default=4.0, help="builder workspace limit")
    trt.add_argument("--opt-level", type=int, default=3, help="builder optimisation level 0–5")
    tri = p.add_argument_group("Triton Inference Server (needs restyle[triton]; docs/scale-out.md)")
    tri.add_argument("--triton", metavar="REPO_DIR",
                     help="also write a Triton model repository entry: config.pbtxt and "
                          "1/model.onnx (1/model.plan with --trt)")
    tri.add_argument("--triton-name", help="model name in the repository (default: the style)")
    tri.add_argument("--triton-max-batch", type=int, default=16,
                     help="largest batch Triton's dynamic batcher forms (default 16)")
    tri.add_argument("--triton-instances", type=int, default=1,
                     help="model instances per device (default 1)")
    tri.add_argument("--triton-kind", choices=("gpu", "cpu"), default="gpu",
                     help="where Triton runs the model (default gpu)")
    tri.add_argument("--triton-overwrite", action="store_true",
                     help="replace the model's version 1 if the repository has it")


@command("export", help="export a trained style to a checked ONNX file (and a TensorRT engine)",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.errors import ConfigError
    from restyle.export.verify import DEFAULT_CHECK_SHAPES, parse_shapes
    from restyle.modelinfo import IO_FLOAT32_NCHW, IO_UINT8_NHWC
    from restyle.trt.record import parse_shape

    if args.engine and not args.trt:
        raise ConfigError("--engine needs --trt: add --trt to build an engine")
    if args.triton:  # fail before the export when tritonclient is missing or the kind is wrong
        from restyle._optional import require

        require("tritonclient.grpc.model_config_pb2", purpose="--triton")
        if args.trt and args.triton_kind == "cpu":
            raise ConfigError("--trt with --triton-kind cpu: a TensorRT plan runs on a GPU; drop "
                              "--trt to serve the ONNX file on CPU")
    shapes = parse_shapes(args.check_shapes) if args.check_shapes else DEFAULT_CHECK_SHAPES
    profile = (parse_shape(args.min), parse_shape(args.opt), parse_shape(args.max))
    if args.int8:  # fail before the export when NNCF is missing or fp16 is asked too
        from restyle._optional import require

        require("nncf", purpose="--int8")
        if args.fp16:
            raise ConfigError("--int8 quantises the fp32 model: drop --fp16 (or export twice)")
    if args.trt:  # fail on bad shapes, or without TensorRT or a GPU, before the export
        from restyle.trt.record import BuildProfile
        from restyle.trt.target import detect_target

        BuildProfile(min=profile[0], opt=profile[1], max=profile[2])
        detect_target()

    from restyle.export.chain import to_onnx

    result = to_onnx(
        args.source, args.onnx, fp16=args.fp16,
        io=IO_FLOAT32_NCHW if args.float32_nchw else IO_UINT8_NHWC,
        style=args.style_name, description=args.description, attribution=args.attribution,
        license=args.license, check_shapes=shapes, fold_upsampling=not args.no_fold,
        progress=True,
    )
    out = sys.stdout
    out.write(f"onnx        {result.path}\n")
    out.write(f"style       {result.info.style} ({result.info.arch}, {result.info.precision}, "
              f"{result.info.io})\n")
    out.write(f"exporter    {result.exporter}, {result.nodes} nodes, "
              f"{result.size_bytes / 1e6:.2f} MB, {result.seconds:.1f} s\n")
    checked = ", ".join("x".join(map(str, c.shape)) for c in result.verification.checks)
    out.write(f"verified    ONNX Runtime vs PyTorch: max {result.verification.max_diff} grey "
              f"level(s) apart at {checked}\n")
    if result.fp16 is not None:
        shown = ", ".join(f"{k} {v:.1f} dB" for k, v in result.fp16.psnr_db.items())
        out.write(f"fp16 psnr   {shown}\n")
    int8_failed = False
    if args.int8:
        from restyle.errors import QualityGateError
        from restyle.export.int8 import quantize

        try:
            write_int8_report(quantize(
                result.path, calibration=args.calibration, heldout=args.heldout,
                crops=args.crops, crop_size=args.crop_size, min_psnr_db=args.min_psnr,
                max_float_layers=args.max_float_layers))
        except QualityGateError as exc:  # the fp32 model stands; int8 is refused
            log.error("%s", exc)
            int8_failed = True
    engine: Path | None = None
    if args.trt:
        from restyle.trt.build import build_engine

        engine = build_engine(
            result.path, engine_path=args.engine, min_shape=profile[0], opt_shape=profile[1],
            max_shape=profile[2], fp16=args.fp16 or args.precision in ("auto", "fp16"),
            workspace_bytes=int(args.workspace_gib * (1 << 30)), optimization_level=args.opt_level,
        )
        out.write(f"engine      {engine}\n")
    if args.triton:
        from restyle.export.triton import write_triton_repo

        model_dir = write_triton_repo(
            result.path, args.triton, name=args.triton_name,
            max_batch_size=(min(args.triton_max_batch, profile[2][0]) if engine is not None
                            else args.triton_max_batch),
            instance_count=args.triton_instances,
            kind="KIND_CPU" if args.triton_kind == "cpu" else "KIND_GPU",
            engine_path=engine, overwrite=args.triton_overwrite)
        out.write(f"triton      {model_dir}\n")
    return 1 if int8_failed else 0
