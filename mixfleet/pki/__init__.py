"""Mixfleet's public-key infrastructure, with the ``cryptography`` package: the cluster CA,
serving and client certificates, certificate signing requests, the CA's discovery hash
(``sha256:<hex of the SubjectPublicKeyInfo>``, kubeadm's ``--discovery-token-ca-cert-hash``)
and bootstrap tokens (``abcdef.0123456789abcdef``, kubeadm's format). Pure: it talks to
nothing, no gRPC and no store; the adapters (``client``, ``controlplane``, ``nodeagent``,
``store.etcd``) turn its PEM bytes into transport credentials.

Names, as Kubernetes spells them: a node's client certificate has CN ``system:node:NAME``
and O ``system:nodes``; an admin's has O ``system:masters``.
"""
