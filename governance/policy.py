"""Policy documents as code: parsing, CEL compilation and evaluation against a request.

A policy document is YAML (see ``governance/policies/default.yaml``)::

    name: default            # a slug; the newest version of a name is in force
    tenants: []              # optional: only these tenant slugs (empty: every other tenant)
    params: {...}            # optional constants, visible to rules as ``params``
    rules:
      - id: high-risk-to-production
        when: tier == "high" && environment == "production"     # CEL, must give a bool
        outcome: require_approvals                              # allow | require_approvals | deny
        approvals: 2
        role: governance_lead                                   # or tenant_owner
        reason: Two governance leads must approve.              # may quote {context.fields}
    otherwise: {outcome: ..., reason: ...}                       # when no rule fires
    on_recertification_overdue: suspend   # optional: suspend | flag (the default)

The request context every rule sees (``CONTEXT_FIELDS``): tenant, model, version, tier,
environment, target, instance_type, replicas, metrics (name to number, from the version's run),
tags (the version's tags), model_card {completeness, complete, status, approved, missing},
drift_monitor (bool), monitor {requested, endpoint, exists, enabled, last_run_at, last_verdict},
cost {known, hourly, monthly, currency}, params.

Combining: any firing ``deny`` denies (with every deny reason); otherwise firing
``require_approvals`` rules need, per role, the largest number any of them asks for; otherwise a
firing ``allow`` allows; otherwise ``otherwise`` applies. A rule that cannot be evaluated on a
request counts as firing when its outcome is deny or require_approvals, so errors fail closed.

``on_recertification_overdue`` says what happens when a high-risk model's re-certification is
overdue: ``flag`` only tells the unit's owners and the governance leads; ``suspend`` also
suspends the model's live production revisions once it is ``RECERTIFICATION_GRACE_DAYS`` overdue.

Evaluation is bounded (``governance.policy_limits``, ``governance.policy_budget``): documents and
contexts over a cap are refused, and rules run in a worker process within a time budget; a rule
out of budget counts as not evaluable, so it fails closed too. Publishing runs each rule on the
largest context the caps allow and refuses a rule that needs more than the budget.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import celpy
import yaml

from governance import policy_limits as limits
from governance.policy_budget import Outcome, budget_ms, rules_evaluate
from portal.core.errors import InvalidRequest

OUTCOMES = ("allow", "require_approvals", "deny")
APPROVER_ROLES = {
    "governance_lead": "governance lead",
    "tenant_owner": "owner of the unit",
}
CONTEXT_FIELDS: dict[str, str] = {
    "tenant": "the tenant's slug",
    "model": "the registered model's name",
    "version": "the model version number",
    "tier": 'the EU AI Act tier: "prohibited", "high", "limited", "minimal" or "" (unclassified)',
    "environment": '"staging" or "production"',
    "target": '"local", "kserve" or "sagemaker"',
    "instance_type": "the instance type asked for",
    "replicas": "the number of replicas asked for",
    "metrics": "the version's run metrics, name to number",
    "tags": "the version's tags, name to string",
    "model_card": (
        '{completeness: 0-100, complete: bool, status: "none", "draft", "in_review" or '
        '"approved", approved: bool (a governance lead approved it), missing: [labels]}'
    ),
    "drift_monitor": "whether the request asks for drift monitoring (the same as monitor.requested)",
    "monitor": (
        "the endpoint's drift monitor: {requested: bool (the request asks for one; it is created "
        "when the revision goes live), endpoint: string, exists: bool, enabled: bool, "
        'last_run_at: ISO time or "", last_verdict: "ok", "warning", "drift", "unknown" or "" '
        "(no finished run)}"
    ),
    "cost": "{known: bool, hourly: number, monthly: number, currency: string}",
    "params": "the policy document's own params",
}
SAMPLE_CONTEXT: dict[str, Any] = {
    "tenant": "sample",
    "model": "sample",
    "version": 1,
    "tier": "minimal",
    "environment": "staging",
    "target": "local",
    "instance_type": "cpu.small",
    "replicas": 1,
    "metrics": {"val_accuracy": 0.9, "fairness_gap": 0.01},
    "tags": {},
    "model_card": {
        "completeness": 100,
        "complete": True,
        "status": "draft",
        "approved": False,
        "missing": [],
    },
    "drift_monitor": True,
    "monitor": {
        "requested": True,
        "endpoint": "sample-staging",
        "exists": False,
        "enabled": False,
        "last_run_at": "",
        "last_verdict": "",
    },
    "cost": {"known": True, "hourly": 0.1, "monthly": 73.0, "currency": "USD"},
}
# When a document has no ``otherwise``: nothing unforeseen goes out without a person looking.
DEFAULT_OTHERWISE = {
    "outcome": "require_approvals",
    "approvals": 1,
    "role": "governance_lead",
    "reason": "No rule of the policy covers this request, so a governance lead reviews it.",
}
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62})$")
ON_RECERTIFICATION_OVERDUE = ("suspend", "flag")
_ENV = celpy.Environment()


class PolicyInvalid(InvalidRequest):
    code = "invalid_policy"


@dataclass(frozen=True)
class Rule:
    id: str
    outcome: str
    reason: str
    when: str = ""
    approvals: int = 0
    role: str = ""
    line: int = 0


@dataclass(frozen=True)
class ParsedPolicy:
    name: str
    description: str
    tenants: tuple[str, ...]
    params: dict[str, Any]
    rules: tuple[Rule, ...]
    otherwise: Rule
    content_hash: str
    on_recertification_overdue: str = "flag"


@dataclass
class RuleResult:
    id: str
    outcome: str
    fired: bool
    reason: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.id,
            "outcome": self.outcome,
            "fired": self.fired,
            "reason": self.reason,
            "error": self.error,
        }


@dataclass
class Decision:
    """What a policy says about one request, with the reasons a person reads."""

    outcome: str
    requirements: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    rules: list[RuleResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "requirements": self.requirements,
            "reasons": self.reasons,
            "rules": [r.as_dict() for r in self.rules],
        }


def content_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _when_lines(document: str) -> dict[int, int]:
    """Index of each rule to the 1-based line where its CEL expression starts."""
    lines: dict[int, int] = {}
    try:
        root = yaml.compose(document, Loader=limits.YamlLoader)
    except yaml.YAMLError:
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value != "rules" or not isinstance(value, yaml.SequenceNode):
            continue
        for index, item in enumerate(value.value):
            if not isinstance(item, yaml.MappingNode):
                continue
            for rule_key, rule_value in item.value:
                if rule_key.value == "when" and isinstance(rule_value, yaml.ScalarNode):
                    block = rule_value.style in ("|", ">")
                    lines[index] = rule_value.start_mark.line + 1 + (1 if block else 0)
    return lines


def _locate(document: str, start_line: int, column: int) -> tuple[int, int]:
    """The document line and column of a position in an expression folded onto one line."""
    remaining = column
    lines = document.splitlines()[start_line - 1 :]
    for offset, raw in enumerate(lines):
        text = (
            " ".join(raw.replace("when:", "", 1).split()) if offset == 0 else " ".join(raw.split())
        )
        if remaining <= len(text) + 1 or offset == len(lines) - 1:
            indent = len(raw) - len(raw.lstrip())
            return start_line + offset, indent + remaining
        remaining -= len(text) + 1
    return start_line, column


def _cel_error(text: str) -> str:
    match = re.search(r"undeclared reference to '([^']+)'", text)
    if match:
        return (
            f"'{match.group(1)}' is not a field of the request context "
            f"(fields: {', '.join(CONTEXT_FIELDS)})"
        )
    return text.splitlines()[0][:300]


def _rule(raw: Any, *, where: str, needs_when: bool, line: int = 0) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyInvalid(f"{where} must be a mapping with outcome and reason.")
    unknown = set(raw) - {"id", "when", "outcome", "reason", "approvals", "role"}
    if unknown:
        raise PolicyInvalid(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        raise PolicyInvalid(f"{where}: outcome must be one of {', '.join(OUTCOMES)}.")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise PolicyInvalid(f"{where}: every rule needs a reason a person can read.")
    when = raw.get("when", "")
    if needs_when and (not isinstance(when, str) or not when.strip()):
        raise PolicyInvalid(f"{where}: 'when' must be a CEL expression.")
    approvals: Any = 0
    role: Any = ""
    if outcome == "require_approvals":
        approvals, role = raw.get("approvals"), raw.get("role")
        if not isinstance(approvals, int) or isinstance(approvals, bool) or not 1 <= approvals <= 5:
            raise PolicyInvalid(f"{where}: approvals must be a whole number from 1 to 5.")
        if role not in APPROVER_ROLES:
            raise PolicyInvalid(f"{where}: role must be one of {', '.join(APPROVER_ROLES)}.")
    return Rule(
        id=str(raw.get("id", "otherwise")),
        outcome=outcome,
        reason=" ".join(reason.split()),
        when=" ".join(str(when).split()) if when else "",
        approvals=approvals or 0,
        role=role or "",
        line=line,
    )


def policy_parse(document: str, *, strict: bool = True) -> ParsedPolicy:
    """Validate a policy document and compile its rules; ``PolicyInvalid`` names what is wrong.

    ``strict`` (publishing, trying a draft) also holds each rule to the caps on its cost and runs
    it on a sample and on the largest context allowed. A stored version is read with
    ``strict=False``: it passed when it was published, and the budget bounds it on every request.
    """
    if not isinstance(document, str) or not document.strip():
        raise PolicyInvalid("The policy document is empty.")
    try:
        limits.document_size_check(document)
        limits.yaml_check(document)
    except limits.TooLarge as error:
        raise PolicyInvalid(str(error)) from None
    try:
        raw = yaml.load(document, Loader=limits.YamlLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"Line {mark.line + 1}: " if mark is not None else ""
        raise PolicyInvalid(f"{where}the document is not valid YAML.") from None
    if not isinstance(raw, dict):
        raise PolicyInvalid("The policy document must be a YAML mapping with name and rules.")
    unknown = set(raw) - {
        "name",
        "description",
        "tenants",
        "params",
        "rules",
        "otherwise",
        "on_recertification_overdue",
    }
    if unknown:
        raise PolicyInvalid(f"Unknown top-level keys: {', '.join(sorted(map(str, unknown)))}.")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise PolicyInvalid("name must be a slug of lowercase letters, digits and hyphens.")
    tenants = raw.get("tenants") or []
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise PolicyInvalid("tenants must be a list of tenant slugs.")
    on_overdue = raw.get("on_recertification_overdue", "flag")
    if on_overdue not in ON_RECERTIFICATION_OVERDUE:
        raise PolicyInvalid(
            "on_recertification_overdue must be 'suspend' (suspend the model's live production "
            "revisions once the grace period is over) or 'flag' (only tell people)."
        )
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise PolicyInvalid("params must be a mapping.")
    try:
        limits.context_check({"params": params})
    except limits.Unreadable as error:
        raise PolicyInvalid(
            "params may hold only text, numbers (within 64 bits), true/false, lists and "
            f"mappings ({error})."
        ) from None
    except limits.TooLarge as error:
        raise PolicyInvalid(str(error)) from None
    raw_rules = raw.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise PolicyInvalid("rules must be a non-empty list.")
    if strict:
        try:
            limits.rules_count_check(len(raw_rules))
        except limits.TooLarge as error:
            raise PolicyInvalid(str(error)) from None
    lines = _when_lines(document)
    rules, places, seen = [], [], set()
    for index, raw_rule in enumerate(raw_rules):
        line = lines.get(index, 0)
        rule_id = raw_rule.get("id") if isinstance(raw_rule, dict) else None
        where = f"Line {line}: rule '{rule_id}'" if line else f"Rule {index + 1}"
        if not isinstance(rule_id, str) or not NAME.match(rule_id):
            raise PolicyInvalid(f"{where}: every rule needs an id (a slug).")
        if rule_id in seen:
            raise PolicyInvalid(f"{where}: the id is used twice.")
        seen.add(rule_id)
        rule = _rule(raw_rule, where=where, needs_when=True, line=line)
        _compile(rule, document, where, params, strict=strict)
        rules.append(rule)
        places.append(where)
    otherwise = _rule(
        raw.get("otherwise") or DEFAULT_OTHERWISE, where="otherwise", needs_when=False
    )
    if strict:
        _check_by_evaluation(rules, places, params)
    return ParsedPolicy(
        name=name,
        description=" ".join(str(raw.get("description") or "").split()),
        tenants=tuple(tenants),
        params=params,
        rules=tuple(rules),
        otherwise=otherwise,
        content_hash=content_hash(document),
        on_recertification_overdue=on_overdue,
    )


def _compile(
    rule: Rule, document: str, where: str, params: dict[str, Any], *, strict: bool
) -> None:
    """Compile the rule's expression; when ``strict``, hold it to the caps on its cost first."""
    try:
        if strict:
            limits.expression_length_check(rule.when)
        tree = _ENV.compile(rule.when)
        if strict:
            limits.expression_check(tree, params)
    except limits.TooLarge as error:
        raise PolicyInvalid(f"{where}: the expression {error}.") from None
    except celpy.CELParseError as error:
        at, col = where, ""
        if rule.line:
            error_line, column = _locate(document, rule.line, getattr(error, "column", None) or 1)
            at, col = f"Line {error_line}", f", column {column}"
        raise PolicyInvalid(
            f"{at}{col}: rule '{rule.id}' is not a valid CEL expression: {rule.when}"
        ) from None
    except Exception as error:  # celpy raises more than its parse error on odd input
        raise PolicyInvalid(
            f"{where}: rule '{rule.id}' is not a valid CEL expression "
            f"({type(error).__name__}): {rule.when[:200]}"
        ) from None


def _check_by_evaluation(rules: list[Rule], places: list[str], params: dict[str, Any]) -> None:
    """Run every rule on the sample context and on the largest context the caps allow.

    Refuse rules naming fields the context does not have, giving something other than a bool,
    failing outside CEL (a RecursionError), or needing more than the budget on the largest context.
    """
    expressions = [rule.when for rule in rules]
    budget = budget_ms()
    on_sample = rules_evaluate(expressions, {**SAMPLE_CONTEXT, "params": params}, budget=budget)
    on_largest = rules_evaluate(expressions, limits.worst_case_context(params), budget=budget)
    for where, sample, largest in zip(places, on_sample, on_largest, strict=True):
        for outcome, which in ((sample, "a sample request"), (largest, _LARGEST)):
            if outcome.kind == "budget":
                raise PolicyInvalid(
                    f"{where}: the expression needs more than the {budget} ms evaluation budget "
                    f"on {which}; make it cheaper."
                )
            if outcome.kind == "crash":
                raise PolicyInvalid(
                    f"{where}: the expression cannot be evaluated ({outcome.value}) on {which}."
                )
        if sample.kind == "error":
            message = _cel_error(sample.value)
            if "is not a field" in message:
                raise PolicyInvalid(f"{where}: {message}.")
        elif sample.kind == "type":
            raise PolicyInvalid(f"{where}: 'when' must give true or false.")


_LARGEST = (
    f"the largest request the portal accepts ({limits.MAX_METRICS} metrics, {limits.MAX_TAGS} "
    f"tags, {limits.MAX_LIST_ITEMS} items in other lists)"
)


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\}")


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_format_value(v) for v in value) or "nothing"
    return str(value)


def reason_text(template: str, context: dict[str, Any]) -> str:
    """The reason with ``{a.b}`` replaced by the context's value; unknown fields stay as written."""

    def replace(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            if not isinstance(value, dict) or part not in value:
                return match.group(0)
            value = value[part]
        return _format_value(value)

    return _PLACEHOLDER.sub(replace, template)


PROHIBITED_REASON = (
    "The model is classified as a prohibited AI practice (EU AI Act, Article 5); the portal "
    "never deploys it, whatever a policy says."
)


def policy_evaluate(policy: ParsedPolicy, context: dict[str, Any]) -> Decision:
    """The policy's decision on one request; a prohibited model is denied whatever it says."""
    decision = _combine(policy, context)
    if context.get("tier") == "prohibited" and decision.outcome != "deny":
        return Decision("deny", {}, [PROHIBITED_REASON], decision.rules)
    return decision


def _combine(policy: ParsedPolicy, context: dict[str, Any]) -> Decision:
    """Evaluate every rule on one request and combine the outcomes (see the module docstring)."""
    full = {**context, "params": policy.params}
    try:
        limits.context_check(full)
    except limits.TooLarge as error:
        outcomes = [Outcome("context", limits.context_problem(error))] * len(policy.rules)
    else:
        outcomes = rules_evaluate([rule.when for rule in policy.rules], full)
    results = [
        _rule_result(rule, outcome, full)
        for rule, outcome in zip(policy.rules, outcomes, strict=True)
    ]
    fired = [r for r in results if r.fired]
    denies = [r for r in fired if r.outcome == "deny"]
    if denies:
        return Decision("deny", {}, [r.reason for r in denies], results)
    approvals = [r for r in fired if r.outcome == "require_approvals"]
    if approvals:
        requirements: dict[str, int] = {}
        for result in approvals:
            rule = next(r for r in policy.rules if r.id == result.id)
            requirements[rule.role] = max(requirements.get(rule.role, 0), rule.approvals)
        return Decision("require_approvals", requirements, [r.reason for r in approvals], results)
    allows = [r for r in fired if r.outcome == "allow"]
    if allows:
        return Decision("allow", {}, [r.reason for r in allows], results)
    fallback = policy.otherwise
    requirements = {fallback.role: fallback.approvals} if fallback.role else {}
    return Decision(fallback.outcome, requirements, [reason_text(fallback.reason, full)], results)


def _problem(outcome: Outcome) -> str:
    """Why a rule could not be evaluated, as a clause."""
    if outcome.kind == "budget":
        return f"it needs more than the {budget_ms()} ms evaluation budget"
    if outcome.kind == "type":
        return f"it gave {outcome.value}, not true or false"
    if outcome.kind == "crash":
        return f"{outcome.value} while evaluating"
    if outcome.kind == "context":
        text = str(outcome.value).rstrip(".")
        return text[:1].lower() + text[1:]
    return _cel_error(str(outcome.value))


def _rule_result(rule: Rule, outcome: Outcome, full: dict[str, Any]) -> RuleResult:
    if outcome.kind == "bool":
        matched = bool(outcome.value)
        return RuleResult(
            rule.id, rule.outcome, matched, reason_text(rule.reason, full) if matched else ""
        )
    problem = _problem(outcome)
    fails_closed = rule.outcome != "allow"
    return RuleResult(
        rule.id,
        rule.outcome,
        fired=fails_closed,
        reason=(
            f"Rule '{rule.id}' could not be evaluated on this request ({problem}), so it is "
            "treated as applying: " + reason_text(rule.reason, full)
            if fails_closed
            else ""
        ),
        error=problem,
    )
