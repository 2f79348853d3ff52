/* verdict.c — from findings to the decision.
 *
 *   a finding whose rule is "deny"                    -> deny, in every mode
 *   unjudgeable, and some rule is "deny"              -> deny (it might have been caught)
 *   approvalPolicy auto                               -> allow
 *   a finding whose rule is "risky"                   -> ask
 *   unjudgeable                                       -> ask
 *   approvalPolicy manual, and the action changes state -> ask, rule "state_change"
 *   otherwise                                         -> allow
 *
 * Among several findings the first rule in rk_rule order (then the extra rules in their order)
 * names the decision, so the same request always gives the same reason.
 */
#include "risky.h"

#include <string.h>

/* Copies at most `max` bytes, cut between whole characters and marked with "...". */
static void copy_cut(char *out, const char *text, size_t len, size_t max) {
  bool cut = len > max;
  if (!text) len = 0;
  if (cut) {
    len = max;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80) len--;
  }
  memcpy(out, text ? text : "", len);
  if (cut) memcpy(out + len, "...", 3), len += 3;
  out[len] = '\0';
}

void rk_note(rk_verdict *verdict, size_t rule, const char *what, const char *detail, const char *subject,
             size_t subject_len) {
  rk_finding *finding = &verdict->findings[rule];
  if (finding->found) return;
  finding->found = true;
  finding->what = what;
  copy_cut(finding->detail, detail, detail ? strlen(detail) : 0, RK_DETAIL_MAX - 3);
  copy_cut(finding->subject, subject, subject_len, RK_SUBJECT_MAX);
}

void rk_note_change(rk_verdict *verdict, const char *subject, size_t subject_len) {
  if (verdict->changes_state) return;
  verdict->changes_state = true;
  copy_cut(verdict->change_subject, subject, subject_len, RK_SUBJECT_MAX);
}

void rk_note_unjudgeable(rk_verdict *verdict, const char *why) {
  if (!verdict->unjudgeable) verdict->unjudgeable = why;
}

/* {"effect":E,"reason":"<what> (<detail>): <subject>","rule":R}; an extra rule without a
 * reason of its own says which rule it is. */
static rh_status write_one(const rh_writer *out, const char *effect, const char *what, const char *rule,
                           const char *detail, const char *subject) {
  rh_status status;
  if ((status = rh_json_write_cstr(out, "{\"effect\":\"")) || (status = rh_json_write_cstr(out, effect)) ||
      (status = rh_json_write_cstr(out, "\",\"reason\":\"")))
    return status;
  if (what) status = rh_json_write_escaped(out, what, strlen(what));
  else if ((status = rh_json_write_cstr(out, "matches rule '")) == RH_OK &&
           (status = rh_json_write_escaped(out, rule, strlen(rule))) == RH_OK)
    status = rh_json_write_cstr(out, "'");
  if (status == RH_OK && detail && *detail &&
      ((status = rh_json_write_cstr(out, " (")) || (status = rh_json_write_escaped(out, detail, strlen(detail))) ||
       (status = rh_json_write_cstr(out, ")"))))
    return status;
  if (status == RH_OK && subject && *subject &&
      ((status = rh_json_write_cstr(out, ": ")) || (status = rh_json_write_escaped(out, subject, strlen(subject)))))
    return status;
  if (status == RH_OK && !(status = rh_json_write_cstr(out, "\",\"rule\":")) &&
      !(status = rh_json_write_string(out, rule, strlen(rule))))
    status = rh_json_write_cstr(out, "}");
  return status;
}

static rk_setting setting_of(const rk_config *config, size_t rule) {
  return rule < RK_RULE_COUNT ? config->rules[rule] : config->extra[rule - RK_RULE_COUNT].effect;
}

static const char *id_of(const rk_config *config, size_t rule) {
  return rule < RK_RULE_COUNT ? rk_rule_ids[rule] : config->extra[rule - RK_RULE_COUNT].id;
}

/* The first finding whose rule is set to `setting`, or SIZE_MAX. */
static size_t first_finding(const rk_config *config, const rk_verdict *verdict, rk_setting setting) {
  size_t i;
  for (i = 0; i < RK_RULE_COUNT + config->extra_count; i++)
    if (verdict->findings[i].found && setting_of(config, i) == setting) return i;
  return SIZE_MAX;
}

static rh_status write_finding(const rk_config *config, const rk_verdict *verdict, size_t rule, const char *effect,
                               const rh_writer *out) {
  const rk_finding *f = &verdict->findings[rule];
  return write_one(out, effect, f->what, id_of(config, rule), f->detail, f->subject);
}

rh_status rk_write_decision(const rk_config *config, rk_mode mode, const rk_verdict *verdict, const rh_writer *out) {
  size_t rule;
  if ((rule = first_finding(config, verdict, RK_DENY)) != SIZE_MAX)
    return write_finding(config, verdict, rule, "deny", out);
  if (verdict->unjudgeable && rk_config_denies_anything(config))
    return write_one(out, "deny", "cannot be judged, and some rules deny", "unjudgeable", NULL, verdict->unjudgeable);
  if (mode != RK_MODE_AUTO) {
    if ((rule = first_finding(config, verdict, RK_RISKY)) != SIZE_MAX)
      return write_finding(config, verdict, rule, "ask", out);
    if (verdict->unjudgeable) return write_one(out, "ask", "cannot be judged", "unjudgeable", NULL, verdict->unjudgeable);
    if (mode == RK_MODE_MANUAL && verdict->changes_state)
      return write_one(out, "ask", "changes state (approvalPolicy is manual)", "state_change", NULL,
                       verdict->change_subject);
  }
  return rh_json_write_cstr(out, "{\"effect\":\"allow\"}");
}

rh_status rk_write_malformed(const char *reason, const rh_writer *out) {
  return write_one(out, "deny", reason, "malformed_request", NULL, NULL);
}
