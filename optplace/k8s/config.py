"""What the cluster does not know, given by the user: the model catalog and the mapping from
Kubernetes extended resources to optplace accelerator types.

* The **catalog** (``--models FILE``) holds what an instance needs beyond nodes and
  applications: ``accelerator_types``, ``models`` with their profiles (service times are measured,
  not something Kubernetes knows), and optionally ``settings``, ``objectives`` and ``host_all``.
* The **Kubernetes configuration** (``--config FILE``, optional) says which extended resources
  are accelerators and of which type (first matching rule wins, so a rule with ``node_labels``
  can tell a Jetson Xavier from a Nano that both offer ``nvidia.com/gpu``), which node label holds
  NVIDIA time-slicing replicas, and, for the export, the namespace, images and serving port.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from optplace.domain import AcceleratorType, ClusterSettings, Model, Name, Objective
from optplace.io import dotted

# Upstream's qualified name: an optional DNS-subdomain prefix and a name of at most 63 characters.
_QUALIFIED_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SHORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$")

NVIDIA_GPU = "nvidia.com/gpu"
NVIDIA_REPLICAS_LABEL = "nvidia.com/gpu.replicas"  # set by NVIDIA GPU feature discovery with time-slicing
CORAL_TPU = "coral.ai/tpu"  # the resource name of the edge device plugin for Coral edgeTPUs


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Catalog(_Frozen):
    """Accelerator types and models (with profiles) that the cluster's applications use."""

    accelerator_types: list[AcceleratorType] = Field(min_length=1)
    models: list[Model] = Field(min_length=1)
    settings: ClusterSettings = Field(default_factory=ClusterSettings)
    objectives: list[Objective] | None = Field(default=None, min_length=1)
    host_all: bool = False


class AcceleratorRule(_Frozen):
    """Devices of one extended resource, on nodes carrying ``node_labels``, are accelerators of
    ``accelerator_type``."""

    resource: str = Field(description="Extended resource name, e.g. nvidia.com/gpu.")
    accelerator_type: Name
    node_labels: dict[str, str] = Field(
        default_factory=dict, description="The rule applies to nodes with all of these."
    )
    replicas_label: str | None = Field(
        default=None,
        description="Node label with the time-slicing replicas per device: allocatable / replicas devices.",
    )
    short_name: str | None = Field(
        default=None, description="Used in accelerator names <node>-<short_name><index>; default from the resource."
    )

    @field_validator("resource", "replicas_label")
    @classmethod
    def _qualified(cls, value: str | None) -> str | None:
        if value is not None and not _QUALIFIED_NAME.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes resource or label name (such as nvidia.com/gpu)")
        return value

    @field_validator("short_name")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is not None and not _SHORT_NAME.match(value):
            raise ValueError("use 1-16 lower-case letters, digits or '-'")
        return value

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.node_labels.items())

    @property
    def device_name(self) -> str:
        if self.short_name:
            return self.short_name
        tail = self.resource.rsplit("/", 1)[-1].lower()
        return re.sub(r"[^a-z0-9-]+", "-", tail).strip("-")[:16] or "device"


def default_rules() -> list[AcceleratorRule]:
    return [
        AcceleratorRule(resource=NVIDIA_GPU, accelerator_type="nvidia-gpu", replicas_label=NVIDIA_REPLICAS_LABEL),
        AcceleratorRule(resource=CORAL_TPU, accelerator_type="coral-edgetpu", short_name="tpu"),
    ]


class Images(_Frozen):
    frontend: str | None = Field(default=None, description="Image of the per-application front end.")
    backends: dict[str, str] = Field(default_factory=dict, description="Accelerator type -> model server image.")


class KubernetesConfig(_Frozen):
    """The ``--config`` file of ``optplace import k8s`` and ``optplace export k8s``."""

    accelerators: list[AcceleratorRule] = Field(default_factory=default_rules, min_length=1)
    namespace: str = Field(default="default", description="Namespace of backends (and of applications with none).")
    images: Images = Field(default_factory=Images)
    backend_port: int = Field(default=8500, ge=1, le=65535)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a namespace name (lower-case DNS label)")
        return value

    def rule_for(self, resource: str, labels: dict[str, str]) -> AcceleratorRule | None:
        return next((r for r in self.accelerators if r.resource == resource and r.matches(labels)), None)

    @property
    def resources(self) -> list[str]:
        return list(dict.fromkeys(r.resource for r in self.accelerators))


class ConfigError(ValueError):
    """A catalog or configuration file that cannot be used; the message names the file and field."""


def read_json_model(path: str | Path, model: type[Any], what: str) -> Any:
    """Read ``path`` as ``model``; every problem is reported as ``file: field: message``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
    return parse_json_model(data, model, f"{path}", what)


def parse_json_model(data: Any, model: type[Any], source: str, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        lines = []
        for item in error.errors(include_url=False):
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown field; remove it or check its spelling against docs/kubernetes.md"
            lines.append(f"  {dotted(tuple(item['loc'])) or '(document)'}: {message}")
        raise ConfigError(f"{source}: invalid {what}\n" + "\n".join(lines)) from None
