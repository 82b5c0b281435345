"""Kubernetes integration, on upstream JSON documents only (no Kubernetes client library):

* :mod:`optplace.k8s.cluster` reads ``kubectl get nodes/pods -o json`` into an instance;
* :mod:`optplace.k8s.manifests` writes a verified placement as Deployments and Services;
* :mod:`optplace.k8s.extender` answers kube-scheduler extender calls from a stored plan;
* :mod:`optplace.k8s.scheme` is the ``optplace.io/`` annotation scheme all three share;
* :mod:`optplace.k8s.objects`, :mod:`optplace.k8s.quantity` and :mod:`optplace.k8s.config` read
  upstream objects, resource quantities and the user's catalog and configuration.

docs/kubernetes.md describes the whole integration.
"""
