"""Specs: an experiment or a sweep as YAML or a UI form, validated whole before anything
starts. Models and parsing in models.py, tuning profiles in profiles.py, the rules of
broker faults in faults.py."""

from kafkalab.spec.keys import normalize_key
from kafkalab.spec.models import (
    ClusterSpec,
    ConsumerSpec,
    ExperimentSpec,
    FaultSpec,
    IntegritySpec,
    KubernetesSpec,
    LoadSpec,
    ProducerSpec,
    RetrySpec,
    ScalingSpec,
    SecuritySpec,
    SweepSpec,
    TopicSpec,
    apply_override,
    form_order,
    load_spec,
    load_sweep,
    parse_spec,
    parse_sweep,
    read_yaml,
    spec_to_dict,
)

__all__ = [
    "ClusterSpec", "ConsumerSpec", "ExperimentSpec", "FaultSpec", "IntegritySpec", "KubernetesSpec", "LoadSpec",
    "ProducerSpec",     "RetrySpec", "ScalingSpec", "SecuritySpec", "SweepSpec", "TopicSpec", "apply_override", "form_order", "load_spec",
    "load_sweep", "normalize_key", "parse_spec", "parse_sweep", "read_yaml", "spec_to_dict",
]
