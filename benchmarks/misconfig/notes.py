"""Hand-written parts of RESULTS.md (the numbers come from results.json)."""

NOTES = {
    "intro": """\
Known-answer examples for the categories Shieldwall's Dockerfile and Kubernetes checks cover, scanned
by Shieldwall and by checkov (PyPI `checkov` 3.3.30, its own venv) in the same run on the same files.

Data (read from `../shared/data/misconfig`, not copied into the project):
[aquasecurity/trivy-checks](https://github.com/aquasecurity/trivy-checks) @80e5382 (MIT) -- the good/bad
examples of `checks/docker` and `checks/kubernetes`; [kubescape/regolibrary](https://github.com/kubescape/regolibrary)
@ce7ef32 (Apache-2.0) -- `rules/*/test/*` (an example is *must-flag* when its `expected.json` lists an alert).
Only the categories mapped in `categories.py` are used: Terraform/CloudFormation (another contributor), and
kubescape rules about live clusters, cloud APIs, kubelet configuration files and file permissions are out.""",
    "commands": """\
```sh
python3 -m venv benchmarks/work/checkov-venv && benchmarks/work/checkov-venv/bin/pip install checkov
.venv/bin/python benchmarks/misconfig/run.py --repeat 3    # builds the corpus, runs both tools, writes this file
.venv/bin/python benchmarks/misconfig/write_results.py    # re-renders it from benchmarks/work/misconfig/results.json
```

Each tool scans the whole corpus once per repetition (`shieldwall scan dir:<corpus> --scanners misconfig
--format json --no-cache`; `checkov -d <corpus> --framework kubernetes dockerfile -o json --quiet --skip-download`);
wall time includes start-up. Checks decided across files -- Shieldwall's set checks (NetworkPolicy coverage,
exposure) and checkov's graph checks (`CKV2_*`) -- would otherwise resolve references across unrelated examples,
so they are re-evaluated one example folder at a time (Shieldwall through its library, checkov by one run per
folder for the cross-file categories and wherever a graph check fired). 2-core machine, other work running.""",
    "bar": """\
*Same category* means the checks of the example's own category (`categories.py` maps each trivy-checks file
and kubescape rule to an equivalence group of Shieldwall and checkov check IDs). HIGH/CRITICAL findings of
*other* categories on must-not-flag examples are listed under Totals: each is a genuine problem of the example
(a literal `MYSQL_ROOT_PASSWORD`, `hostNetwork: true`, `SYS_ADMIN`) that the example was not written to test.""",
    "disagree": """\
Why checkov flags what Shieldwall does not (all on examples where Shieldwall's answer matches the data set's
expectation, or on other categories' examples):

* **Flags passed in `args`** (`rke2-args*` examples, every `cp-*`/`etcd-*` group): checkov reads only a
  container's `command`, so every flag given in `args` counts as missing. Shieldwall reads both.
* **File names**: checkov requires `--service-account-key-file`, `--root-ca-file` and
  `--service-account-private-key-file` to end in `.pem` (`cp-sa-key-file`, `cp-cm-root-ca`, `cp-cm-sa-key`);
  kubeadm's own `sa.pub`/`ca.crt`/`sa.key` fail. CIS asks only that they are set; Shieldwall checks that.
* **Default admission plugins** (`cp-serviceaccount-plugin`, `cp-namespacelifecycle`): ServiceAccount and
  NamespaceLifecycle are on by default; CIS audits that `--disable-admission-plugins` does not turn them off
  (what Shieldwall checks), checkov wants them in `--enable-admission-plugins`.
* **Cilium policies** (`netpol-workload`): checkov's CKV2_K8S_6 knows only NetworkPolicy; the five kubescape
  must-not-flag examples select the pods with CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy.
* **Container-level seccomp** (`k8s-seccomp`): checkov's CKV_K8S_31 looks only at the pod-level profile of a
  CronJob; the container sets `seccompProfile: RuntimeDefault`.
* **ADD of a local archive** (`df-add`): checkov flags every ADD; the trivy must-not-flag example extracts a
  tarball, the one case ADD is for.

Where Shieldwall flags and checkov does not, it is mostly checkov missing the construct: JSON manifests,
CronJob/ephemeral containers, Role-only RBAC rules (checkov's CKV2 RBAC checks need a binding to a service
account in the same scan), duplicated flags, and checks checkov does not have.""",
    "misses": """\
Why: `linux-hardening/issue-container-with-capabilities-no-seccomp` -- the container drops ALL capabilities,
which Shieldwall counts as hardening (SW-K8S-014/015/021 still report the missing seccomp profile, in other
categories); the `resources-*` examples have limits and requests set but above kubescape's configured maxima
or in unusual units (Shieldwall checks presence, not organisation-specific maxima); the
`rule-credentials-in-env-var` examples rely on kubescape's word lists (the value `my_key_value`, the name
`azure_batch_key` holding "Hello from the environment"); Shieldwall's SW-K8S-036 wants a secret-like name
(`*_PASSWORD`, `*_TOKEN`, `API_KEY`...) with a literal value, or a value shaped like a credential (AWS key,
private key, bearer token), to keep a HIGH finding trustworthy; `set-procmount-default/workload` sets
`procMount: Default`,
which the Pod Security Standards allow.""",
    "not_covered": """\
kubescape rules whose test cases are not used: those about live-cluster or cloud state (kubelet and
kube-proxy configuration files, file permissions and ownership, EKS/AKS/GKE APIs, audit policy content,
admission webhooks present in the cluster, image registries allow-lists, `SandboxTemplate` CRDs), and a
few workload rules with organisation-specific inputs (resource limits above a configured maximum,
"sensitive value" word lists that flag `my_key_value`). trivy-checks: all docker and kubernetes categories
are used.""",
}
