"""The AI studio's domain operations: backends, prompts, generation jobs, caption suggestions, usage.

Admin, API and the Celery task call these. Each idea has its own module: `backends`, `screening`
(compliance's hard blocks on what is sent or posted), `templates`, `jobs` (queued and run; the order
a job keeps is told there), `captions` and `usage`. The names are re-exported here, so callers
import them from `content.studio`.
"""

from content.captions import PromptRefused
from content.studio.backends import (
    ENV_BACKENDS,
    backend_config,
    check_health,
    client_for,
    default_backend,
    delete_backend,
    save_backend,
    set_api_key,
    sync_env_backends,
    validate_backend_config,
)
from content.studio.captions import (
    CaptionSuggestions,
    discloses_ai,
    suggest_captions,
    suggest_captions_for_job,
)
from content.studio.jobs import (
    AI_DISCLOSURE_LABEL,
    MAX_PROMPT_LENGTH,
    ImageParams,
    Outcome,
    ProvenanceFailure,
    cancel_job,
    check_likeness,
    enqueue,
    queue_image_job,
    queue_text_job,
    reap_jobs,
    retry_job,
    run_job,
    signing_credentials,
)
from content.studio.screening import (
    audit_refusal,
    extra_terms,
    screen_caption_material,
    screen_request,
    screen_template,
)
from content.studio.templates import (
    MAX_VARIABLE_LENGTH,
    delete_caption_material,
    delete_prompt_category,
    delete_prompt_template,
    render_prompt,
    save_caption_material,
    save_prompt_category,
    save_prompt_template,
)
from content.studio.usage import (
    cost_of,
    log_usage,
    monthly_totals,
)

__all__ = [
    "AI_DISCLOSURE_LABEL",
    "ENV_BACKENDS",
    "MAX_PROMPT_LENGTH",
    "MAX_VARIABLE_LENGTH",
    "CaptionSuggestions",
    "ImageParams",
    "Outcome",
    "PromptRefused",
    "ProvenanceFailure",
    "audit_refusal",
    "backend_config",
    "cancel_job",
    "check_health",
    "check_likeness",
    "client_for",
    "cost_of",
    "default_backend",
    "delete_backend",
    "delete_caption_material",
    "delete_prompt_category",
    "delete_prompt_template",
    "discloses_ai",
    "enqueue",
    "extra_terms",
    "log_usage",
    "monthly_totals",
    "queue_image_job",
    "queue_text_job",
    "reap_jobs",
    "render_prompt",
    "retry_job",
    "run_job",
    "save_backend",
    "save_caption_material",
    "save_prompt_category",
    "save_prompt_template",
    "screen_caption_material",
    "screen_request",
    "screen_template",
    "set_api_key",
    "signing_credentials",
    "suggest_captions",
    "suggest_captions_for_job",
    "sync_env_backends",
    "validate_backend_config",
]
