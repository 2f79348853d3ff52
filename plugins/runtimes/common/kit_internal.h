/* kit_internal.h — what the kit's own files share; adapters do not use it. */
#ifndef RUNHOST_ADAPTER_KIT_INTERNAL_H
#define RUNHOST_ADAPTER_KIT_INTERNAL_H

#include "adapter_kit.h"

/* Replaces every secret in s->payload with [redacted] (uses s->scratch). */
rh_status rhk_impl_scrub(rhk_session *s);

/* `raw` when it may leave as an event's raw (UTF-8, no secret in it), else {NULL, 0}. */
rh_str rhk_impl_safe_raw(const rhk_session *s, rh_str raw);

#endif /* RUNHOST_ADAPTER_KIT_INTERNAL_H */
