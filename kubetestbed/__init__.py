"""A real Kubernetes control plane on 127.0.0.1 for tests and benchmarks.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real programs
(built once from k8s.io/kubernetes by `make kube-testbed`); the nodes are kwok's fake
nodes, so pods are scheduled, run and finish without containers. See controlplane.py.
Real nodes (kubelet + containerd in network and mount namespaces of their own, real
containers from locally imported images; `make kube-nodes`) come beside them: realnode.py.
Their images, built without a registry by `make kube-images`: images.py (OCI archives, oci.py).
"""
