from . import (
    control,  # noqa: F401,E402  (Pause, Subflow, WaitFor, Resume, Labels, state.*, log.Fetch)
    core,  # noqa: F401  (task types register on import)
    flowable,  # noqa: F401,E402  (flowables: Parallel, If, Switch, ForEach, Dag, ...)
    hcloud,  # noqa: F401,E402  (portico.hcloud.*, options providers hcloud.*)
    storage,  # noqa: F401,E402  (LocalFiles)
    terraform,  # noqa: F401,E402  (portico.terraform.*, Kestra's TerraformCLI)
    triggers,  # noqa: F401,E402  (Schedule, Webhook, Flow trigger types)
)
