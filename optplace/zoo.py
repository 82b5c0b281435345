"""The model zoo behind the instance generators: accelerator types, models and their profiles.

Every number here is a :class:`Figure` that names where it comes from. ``assumed=True`` marks a
number we chose (a scaling, a guess inside a published range, a vendor spec not measured under
load); everything else is a published measurement, transcribed from the source it names. The
generators copy these sources into each instance's ``provenance`` so a reader of any generated
file can tell measured profiles from assumed ones.

Sources (keys of :data:`SOURCES`):

* ``ibis``: the seed authors' isolated profiles (umassos/ibis, MIT), as listed in BRIEF.md section 2:
  edgeTPU service time / switch overhead on a Raspberry Pi 4 host, Jetson Nano TensorRT FP16 service
  times, and backend / front-end memory from the released workload files.
* ``coral``: Google's Coral reference latencies (Apache-2.0), ``../shared/data/coral-edgetpu-reference``:
  edgeTPU and CPU-only TFLite latencies per host, and alternating/co-compiled pairs from which a
  per-switch overhead is derived as (pair time - sum of isolated times) / 2.
* ``coral-public``: Coral's public benchmark table (USB 3.0 accelerator on an x86 host), BRIEF.md section 2.
* ``mlperf``: MLPerf Inference v1.1 closed/edge single-stream latencies on Jetson AGX Xavier
  (TensorRT, INT8), ``../shared/data/mlperf-inference-v1.1-jetson``.
* ``alibaba-genai``: model popularity in Alibaba's GenAI serving trace (research use),
  ``../shared/data/alibaba-genai-v2026``; only a fitted exponent is kept here, not the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SOURCES: dict[str, str] = {
    "ibis": "umassos/ibis (MIT) profiles and workloads, Liang et al. ACM TAAS 2023; BRIEF.md section 2",
    "coral": "google-coral/edgetpu benchmarks/reference @75e6756 (Apache-2.0), shared/data/coral-edgetpu-reference",
    "coral-public": "Coral public edgeTPU benchmarks, USB 3.0 accelerator on x86 (BRIEF.md section 2)",
    "mlperf": "MLPerf Inference v1.1 closed/edge SingleStream, mlcommons/inference_results_v1.1 @912dcdb "
    "(shared/data/mlperf-inference-v1.1-jetson)",
    "alibaba-genai": "alibaba/clusterdata cluster-trace-v2026-GenAI @7a6c496 lora_request_trace.csv (research use)",
    "vendor": "vendor hardware specification",
    "papers": "parameter counts published with the models (papers, TF-slim, Keras applications, TF model garden)",
    "assumed": "optplace's own assumption (see note)",
}


@dataclass(frozen=True)
class Figure:
    """One number with its origin; ``assumed`` marks numbers that are not measurements."""

    value: float
    source: str
    note: str = ""
    assumed: bool = False

    def describe(self) -> str:
        tag = "ASSUMED" if self.assumed else "measured"
        return f"{self.value:g} ({tag}; {self.source}{': ' + self.note if self.note else ''})"


def measured(value: float, source: str, note: str = "") -> Figure:
    return Figure(value, source, note, assumed=False)


def assumed(value: float, note: str) -> Figure:
    return Figure(value, "assumed", note, assumed=True)


@dataclass(frozen=True)
class ZooProfile:
    """How one model runs alone on one accelerator type, each number with its origin."""

    service_time_ms: Figure
    memory_mb: Figure
    switch_overhead_ms: Figure | None = None

    def provenance(self) -> dict[str, str]:
        out = {"service_time_ms": self.service_time_ms.describe(), "memory_mb": self.memory_mb.describe()}
        if self.switch_overhead_ms is not None:
            out["switch_overhead_ms"] = self.switch_overhead_ms.describe()
        return out

    def assumed_fields(self) -> list[str]:
        fields = [("service_time_ms", self.service_time_ms), ("memory_mb", self.memory_mb)]
        if self.switch_overhead_ms is not None:
            fields.append(("switch_overhead_ms", self.switch_overhead_ms))
        return [name for name, fig in fields if fig.assumed]


@dataclass(frozen=True)
class ZooModel:
    """A DNN model: its size class (which sets its SLO class) and its profiles per type key."""

    name: str
    size: str  # "small" | "medium" | "large": the seed's SLO classes 200 / 400 / 600 ms
    profiles: dict[str, ZooProfile]
    note: str = ""


@dataclass(frozen=True)
class HostSpec:
    """A kind of node and the accelerators it carries; one per accelerator type key."""

    key: str  # short key used by the generators ("nano", "edgetpu", ...)
    type_name: str  # AcceleratorType.name in instances
    discipline: str  # "ps" | "fcfs" | "dedicated"
    description: str
    node_prefix: str
    node_memory_mb: Figure
    accelerators_per_node: int
    preprocess_cores: float
    cost: Figure
    device_memory_mb: Figure | None = None  # set for datacenter GPUs (backends count against it)
    labels: dict[str, str] = field(default_factory=dict)


# --- accelerator types and their hosts ---------------------------------------------------------

HOSTS: dict[str, HostSpec] = {
    "nano": HostSpec(
        key="nano",
        type_name="jetson-nano-gpu",
        discipline="ps",
        description="Jetson Nano GPU, time-sliced between one TensorRT process per model (processor sharing)",
        node_prefix="nano",
        node_memory_mb=measured(4096, "vendor", "Jetson Nano 4 GB, unified CPU/GPU memory"),
        accelerators_per_node=1,
        preprocess_cores=4,
        cost=assumed(1.0, "unit cost of one edge device"),
        labels={"board": "jetson-nano"},
    ),
    "edgetpu": HostSpec(
        key="edgetpu",
        type_name="coral-edgetpu",
        discipline="fcfs",
        description="Coral USB edgeTPU on a Raspberry Pi 4; one queue, parameter reload on model switch",
        node_prefix="pi",
        node_memory_mb=measured(4096, "vendor", "Raspberry Pi 4 B, 4 GB"),
        accelerators_per_node=1,
        preprocess_cores=4,
        cost=assumed(1.0, "unit cost of one edge device"),
        labels={"board": "raspberry-pi-4"},
    ),
    "cpu": HostSpec(
        key="cpu",
        type_name="x86-cpu",
        discipline="ps",
        description=(
            "CPU-only inference (TFLite, int8) on an x86 edge server; model processes time-share the CPU, "
            "modelled as one processor-sharing server (ASSUMED discipline)"
        ),
        node_prefix="cpu",
        node_memory_mb=assumed(16384, "16 GB x86 edge server"),
        accelerators_per_node=1,
        preprocess_cores=4,
        cost=assumed(0.5, "an existing CPU server: cheaper to use than a dedicated edge accelerator"),
        labels={"board": "x86-server"},
    ),
    "xavier": HostSpec(
        key="xavier",
        type_name="jetson-agx-xavier-gpu",
        discipline="ps",
        description="Jetson AGX Xavier GPU (TensorRT INT8), time-sliced between model processes",
        node_prefix="xavier",
        node_memory_mb=measured(32768, "vendor", "Jetson AGX Xavier 32 GB, unified memory"),
        accelerators_per_node=1,
        preprocess_cores=8,
        cost=assumed(3.0, "roughly the price ratio of an AGX Xavier to a Nano, rounded"),
        labels={"board": "jetson-agx-xavier"},
    ),
    "dcgpu": HostSpec(
        key="dcgpu",
        type_name="datacenter-gpu",
        discipline="ps",
        description="Datacenter inference GPU (T4-class, 16 GB device memory), time-sliced between model processes",
        node_prefix="dc",
        node_memory_mb=assumed(131072, "128 GB host of four datacenter GPUs"),
        accelerators_per_node=4,
        preprocess_cores=16,
        cost=assumed(10.0, "a datacenter GPU slot costs about ten edge devices"),
        device_memory_mb=measured(16384, "vendor", "NVIDIA T4 16 GB"),
        labels={"board": "datacenter"},
    ),
}

# --- shared figures ---------------------------------------------------------------------------

_TPU_BACKEND_MB = measured(100, "ibis", "backend_memory of edgeTPU backends in the released workload files")
_CPU_BACKEND_MB = assumed(200, "TFLite interpreter process with an int8 model (models are 4-45 MB)")
_GPU_BACKEND_DEFAULT_MB = assumed(1000, "inside the published 700-1130 MB range of Nano TensorRT backends")
_DCGPU_BACKEND_MB = assumed(1200, "TensorRT engine plus CUDA context on a datacenter GPU")
_DCGPU_SPEEDUP = 8.0  # ASSUMED: datacenter GPU batch-1 latency = Nano FP16 latency / 8
_PI4_OVER_X86_EDGETPU = 1.94  # median Pi4/x86 edgeTPU latency ratio, coral basic_engine (4 models)
_PI4_SWITCH_SMALL = measured(15.2, "coral", "derived per-switch overhead, MobileNet v1+v2 pair on a Pi 4 host")
_PI4_SWITCH_LARGE = measured(23.1, "coral", "derived per-switch overhead, Inception v1+v4 pair on a Pi 4 host")
FRONTEND_MEMORY_MB = measured(100, "ibis", "frontend_memory of GPU front ends (edgeTPU front ends: 50 MB)")
PREPROCESS_MS = measured(20.0, "ibis", "CPU pre-processing on the Raspberry Pi hosts (24 ms on a Nano)")
NETWORK_DELAY_MS = measured(10.0, "ibis", "constant network delay used in the seed's experiments")

# Switch-overhead scaling measured on other edgeTPU hosts (coral reference, per switch, vs Pi 4):
# USB 2.0 Raspberry Pi 3: MobileNet pair 120.3 ms / 15.2 = 7.9x, Inception pair 216.7 ms / 23.1 = 9.4x.
# Co-compiled models on a Pi 4: MobileNet pair 2.3 ms / 15.2 = 0.15x, Inception pair 10.6 / 23.1 = 0.46x.
SWITCH_SCALE_USB2 = 8.0
SWITCH_SCALE_COCOMPILED = 0.26  # geometric mean of 0.15 and 0.46

# EdgeTPU co-compilation (for co-compilation groups): models compiled together share the on-chip
# parameter cache, so a switch between them reloads only what does not fit. Per-switch overheads
# (ms), alternating (compiled apart) and co-compiled, of the two pairs Google's Coral references
# time, per host: (pair time - both isolated times) / 2, derived by optplace.calibration.coral from
# the references shipped in optplace/data/coral (tests/calibration/test_coral.py re-derives them).
# Hosts: x86_64 (USB 3.0), aarch64 (Dev Board), rp4b (Raspberry Pi 4, USB 3.0, the seed's host),
# rp3b / rp3b+ (Raspberry Pi 3, USB 2.0). Only the pair's total is identified: each direction of
# a pair gets half of it. Benchmark and discussion: benchmarks/results/calibration_cv.md.
EDGETPU_PARAMETER_CACHE_MB = measured(8.0, "vendor", "edgeTPU on-chip parameter cache, about 8 MB (Coral docs)")
CORAL_SWITCH_MS: dict[str, dict[str, dict[str, Figure]]] = {
    host: {
        pair: {
            "alternating": measured(alternating, "coral", f"{pair} compiled apart, per switch, {host} host"),
            "cocompiled": measured(cocompiled, "coral", f"{pair} co-compiled, per switch, {host} host"),
        }
        for pair, (alternating, cocompiled) in pairs.items()
    }
    for host, pairs in {
        "x86_64": {"mobilenet_v1+v2": (9.07, 1.45), "inception_v1+v4": (14.20, 6.84)},
        "aarch64": {"mobilenet_v1+v2": (10.70, 2.02), "inception_v1+v4": (16.73, 9.09)},
        "rp4b": {"mobilenet_v1+v2": (15.19, 2.30), "inception_v1+v4": (23.14, 10.56)},
        "rp3b": {"mobilenet_v1+v2": (120.31, 19.83), "inception_v1+v4": (216.73, 128.28)},
        "rp3b+": {"mobilenet_v1+v2": (129.81, 22.08), "inception_v1+v4": (272.76, 176.79)},
    }.items()
}

# Parameters of the edgeTPU models (MB of int8 weights, about one per million parameters): what a
# co-compiled binary must fit in EDGETPU_PARAMETER_CACHE_MB. Parameter counts from the models' papers
# and model cards; the two SSD detectors are the sizes of Coral's compiled files (ASSUMED: their backbone
# counts are not published separately). Used by benchmarks/cocompile.py to declare co-compilation groups.
EDGETPU_PARAMETER_MB: dict[str, Figure] = {
    "mobilenet_v1": measured(4.2, "papers", "MobileNet v1 1.0 224: 4.2 M parameters (Howard et al. 2017)"),
    "mobilenet_v2": measured(3.4, "papers", "MobileNet v2 1.0 224: 3.4 M parameters (Sandler et al. 2018)"),
    "efficientnet-S": measured(5.4, "papers", "EfficientNet-EdgeTPU-S: 5.4 M parameters (TF model garden)"),
    "efficientnet-M": measured(6.9, "papers", "EfficientNet-EdgeTPU-M: 6.9 M parameters (TF model garden)"),
    "efficientnet-L": measured(10.6, "papers", "EfficientNet-EdgeTPU-L: 10.6 M parameters (TF model garden)"),
    "googlenet": measured(6.6, "papers", "Inception v1 (GoogLeNet): 6.6 M parameters (TF-slim)"),
    "inception_v3": measured(23.8, "papers", "Inception v3: 23.8 M parameters (Keras applications)"),
    "inception_v4": measured(42.7, "papers", "Inception v4: 42.7 M parameters (TF-slim)"),
    "densenet": measured(8.0, "papers", "DenseNet-121: 8.0 M parameters (Keras applications)"),
    "resnet50": measured(25.6, "papers", "ResNet-50: 25.6 M parameters (Keras applications)"),
    "ssd_mobilenet_v1": assumed(6.8, "size of Coral's ssd_mobilenet_v1_coco_quant_postprocess_edgetpu.tflite"),
    "ssd_mobilenet_v2": assumed(6.6, "size of Coral's ssd_mobilenet_v2_coco_quant_postprocess_edgetpu.tflite"),
}

# Model popularity: Zipf exponent fitted (least squares on log share vs log rank) to the request
# counts of the 10 most requested of 87 base models in the Alibaba GenAI trace (shares 30.7%,
# 15.0%, 9.4%, 7.9%, 7.5%, 4.3%, 3.6%, 3.0%, 2.7%, 2.7%).
ZIPF_EXPONENT = measured(1.10, "alibaba-genai", "Zipf exponent fitted to the top-10 model request shares")

# SLO classes (mean end-to-end, ms) by model size, the seed's heterogeneous experiment.
SLO_CLASS_MS: dict[str, Figure] = {
    "small": measured(200.0, "ibis", "SLO of small models in the seed's heterogeneous experiment"),
    "medium": measured(400.0, "ibis", "SLO of medium models in the seed's heterogeneous experiment"),
    "large": measured(600.0, "ibis", "SLO of large models in the seed's heterogeneous experiment"),
}
SLO_RANGE_MS = (60.0, 1000.0)  # the seed's workloads span 60 ms to 1 s
RATE_RANGE_RPS = (5.0, 10.0)  # the seed's Poisson rates


def _tpu(s: Figure, o: Figure) -> ZooProfile:
    return ZooProfile(service_time_ms=s, switch_overhead_ms=o, memory_mb=_TPU_BACKEND_MB)


def _tpu_seed(s: float, o: float) -> ZooProfile:
    return _tpu(
        measured(s, "ibis", "isolated edgeTPU service time, Pi 4 host"),
        measured(o, "ibis", "switch overhead, Pi 4 host"),
    )


def _tpu_coral_public(x86_ms: float, o: Figure) -> ZooProfile:
    return _tpu(
        assumed(
            round(x86_ms * _PI4_OVER_X86_EDGETPU, 2),
            f"Coral public USB3/x86 figure {x86_ms:g} ms x {_PI4_OVER_X86_EDGETPU} (median Pi4/x86 ratio "
            "of the coral basic_engine references) for a Pi 4 host",
        ),
        o,
    )


def _nano(s: float, memory: Figure) -> ZooProfile:
    return ZooProfile(
        service_time_ms=measured(s, "ibis", "Jetson Nano TensorRT FP16 isolated service time"), memory_mb=memory
    )


def _nano_mem(mb: float, where: str) -> Figure:
    return measured(mb, "ibis", f"backend_memory in {where}")


def _cpu(x86_ms: float) -> ZooProfile:
    return ZooProfile(
        service_time_ms=measured(x86_ms, "coral", "CPU-only TFLite int8 on the Xeon W-2135 host (x86_64 reference)"),
        memory_mb=_CPU_BACKEND_MB,
    )


def _xavier(ms: float, benchmark: str) -> ZooProfile:
    return ZooProfile(
        service_time_ms=measured(ms, "mlperf", f"AGX Xavier TensorRT INT8 SingleStream mean, {benchmark}"),
        memory_mb=assumed(1000, "TensorRT process, as on the Nano"),
    )


def _dcgpu(nano_ms: float) -> ZooProfile:
    return ZooProfile(
        service_time_ms=assumed(
            round(nano_ms / _DCGPU_SPEEDUP, 2),
            f"Nano FP16 time {nano_ms:g} ms / {_DCGPU_SPEEDUP:g} (assumed speed-up; MLPerf AGX Xavier INT8 "
            "runs resnet50 in 1.82 ms for scale)",
        ),
        memory_mb=_DCGPU_BACKEND_MB,
    )


MODELS: dict[str, ZooModel] = {
    m.name: m
    for m in [
        ZooModel(
            "mobilenet_v1",
            "small",
            {"edgetpu": _tpu_seed(4.55, 15.12), "cpu": _cpu(43.89)},
        ),
        ZooModel(
            "mobilenet_v2",
            "small",
            {
                "edgetpu": _tpu_seed(4.91, 10.43),
                "nano": _nano(13.0, _nano_mem(1130, "heter_toy_workload.yaml")),
                "cpu": _cpu(46.59),
                "dcgpu": _dcgpu(13.0),
            },
        ),
        ZooModel("efficientnet-S", "small", {"edgetpu": _tpu_seed(9.83, 17.33)}),
        ZooModel(
            "ssd_mobilenet_v1",
            "small",
            {
                "edgetpu": _tpu_seed(18.03, 23.93),
                "cpu": _cpu(95.59),
                "xavier": _xavier(0.9912, "ssd-mobilenet"),
            },
        ),
        ZooModel("ssd_mobilenet_v2", "small", {"edgetpu": _tpu_seed(19.23, 24.63), "cpu": _cpu(98.57)}),
        ZooModel(
            "googlenet",
            "small",
            {
                "nano": _nano(13.9, _nano_mem(893, "gpu_workload1.yaml")),
                "edgetpu": _tpu(
                    measured(6.21, "coral", "inception_v1_224 (GoogLeNet) edgeTPU on a Pi 4 host"), _PI4_SWITCH_LARGE
                ),
                "cpu": _cpu(90.17),
                "dcgpu": _dcgpu(13.9),
            },
            note="Coral calls it inception_v1_224",
        ),
        ZooModel(
            "resnet18",
            "small",
            {"nano": _nano(10.8, _nano_mem(700, "gpu_workload1.yaml")), "dcgpu": _dcgpu(10.8)},
        ),
        ZooModel(
            "densenet",
            "small",
            {"edgetpu": _tpu_coral_public(20.0, assumed(23.1, "large-model switch overhead measured on a Pi 4"))},
            note="DenseNet-121, a small model in the seed's heterogeneous experiment",
        ),
        ZooModel("efficientnet-M", "medium", {"edgetpu": _tpu_seed(15.85, 22.63)}),
        ZooModel(
            "resnet34",
            "medium",
            {"nano": _nano(19.5, _nano_mem(700, "gpu_workload1.yaml")), "dcgpu": _dcgpu(19.5)},
        ),
        ZooModel(
            "resnet50",
            "medium",
            {
                "nano": _nano(29.4, _nano_mem(965, "gpu_workload1.yaml (largest listed)")),
                "edgetpu": _tpu_coral_public(49.0, assumed(23.1, "large-model switch overhead measured on a Pi 4")),
                "xavier": _xavier(1.8203, "resnet50"),
                "dcgpu": _dcgpu(29.4),
            },
        ),
        ZooModel(
            "yolov4-tiny",
            "medium",
            {"nano": _nano(26.1, _GPU_BACKEND_DEFAULT_MB), "dcgpu": _dcgpu(26.1)},
        ),
        ZooModel("efficientnet-L", "large", {"edgetpu": _tpu_seed(42.18, 17.53)}),
        ZooModel(
            "inception_v3",
            "large",
            {
                "nano": _nano(30.6, _nano_mem(936, "heter_toy_workload.yaml")),
                "edgetpu": _tpu_seed(62.95, 19.39),
                "dcgpu": _dcgpu(30.6),
            },
        ),
        ZooModel("inception_v4", "large", {"edgetpu": _tpu_seed(125.13, 19.43), "cpu": _cpu(703.24)}),
        ZooModel(
            "efficientnet-b3",
            "large",
            {"nano": _nano(82.9, _GPU_BACKEND_DEFAULT_MB), "dcgpu": _dcgpu(82.9)},
        ),
        ZooModel("ssd_resnet34", "large", {"xavier": _xavier(25.8509, "ssd-resnet34")}),
    ]
}
