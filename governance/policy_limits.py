"""How large a policy document and a request context may be, so that no evaluation runs long.

Policy evaluation runs on every deployment request and approval, and a dry-run is open to every
member, so its cost is bounded three ways:

- a request context and a policy document over a cap below is refused with a sentence naming the
  cap (a 400), before anything is parsed deeply or evaluated;
- a rule is checked statically: how deep its expressions and comprehensions nest, and how many
  times its comprehension bodies can run on the largest context the caps allow;
- every evaluation runs in a separate process within a time budget (``governance.policy_budget``);
  at publish each rule is also run on ``worst_case_context()``, the largest context the caps allow.
"""

from __future__ import annotations

import json
from typing import Any

import lark
import yaml

# --- The request context --------------------------------------------------------------------------
MAX_METRICS = 256  # metric names of a run
MAX_TAGS = 128  # tags of a model version
MAX_PARAMS = 64  # entries of a policy's params
MAX_LIST_ITEMS = 64  # items of any other list or mapping (model_card.missing, a param's list)
MAX_STRING_CHARS = 1000  # characters of any text, names of metrics and tags included
MAX_NESTING = 6  # lists and mappings inside one another
MAX_CONTEXT_BYTES = 64_000  # the whole context (params included) written as JSON
MAX_INTEGER = 2**63 - 1  # CEL integers are 64-bit

# --- The policy document --------------------------------------------------------------------------
MAX_DOCUMENT_BYTES = 64_000
MAX_YAML_DEPTH = 12  # mappings and lists inside one another
MAX_RULES = 50
MAX_EXPRESSION_CHARS = 1000
MAX_EXPRESSION_DEPTH = 16  # parenthesised, argument and index expressions inside one another
MAX_COMPREHENSION_DEPTH = 2  # map, filter, all, exists... inside one another
MAX_RULE_ITERATIONS = 10_000  # runs of comprehension bodies on the largest context allowed

COMPREHENSIONS = frozenset({"map", "filter", "all", "exists", "exists_one", "reduce", "min"})
_SIZED_FIELDS = {"metrics": MAX_METRICS, "tags": MAX_TAGS}
_ANY_LIST = max(MAX_METRICS, MAX_TAGS, MAX_PARAMS, MAX_LIST_ITEMS)


class TooLarge(Exception):
    """A cap is exceeded; the message is the sentence a person reads."""


class Unreadable(TooLarge):
    """A value CEL cannot hold (a date, a number outside 64 bits, a key that is not text)."""


# --- Contexts -------------------------------------------------------------------------------------


def context_check(context: dict[str, Any]) -> None:
    """Raise ``TooLarge`` naming the first cap the context exceeds, or a value CEL cannot hold."""
    metrics, tags, params = (context.get(k) for k in ("metrics", "tags", "params"))
    for name, value, cap, unit in (
        ("metrics", metrics, MAX_METRICS, "metrics"),
        ("tags", tags, MAX_TAGS, "tags"),
        ("params", params, MAX_PARAMS, "entries"),
    ):
        if isinstance(value, dict | list) and len(value) > cap:
            raise TooLarge(f"{name} has {len(value)} {unit}; a policy reads at most {cap}.")
    try:  # odd keys and values are skipped here and named by the walk below
        size = len(json.dumps(context, default=str, skipkeys=True))
    except RecursionError:
        raise TooLarge(
            f"it nests lists and mappings more than {MAX_NESTING} levels deep."
        ) from None
    if size > MAX_CONTEXT_BYTES:
        raise TooLarge(
            f"it takes {size} bytes as JSON; a policy reads at most {MAX_CONTEXT_BYTES}."
        )
    # Walked with a stack, not recursion: a deeply nested body must not raise RecursionError.
    stack: list[tuple[str, Any, int]] = [(key, value, 1) for key, value in context.items()]
    stack.reverse()
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                raise TooLarge(
                    f"{path} has {len(value)} characters; a policy reads at most "
                    f"{MAX_STRING_CHARS}."
                )
        elif isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        elif isinstance(value, int):
            if not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
                raise Unreadable(f"{path} is a whole number outside 64 bits")
        elif isinstance(value, dict | list):
            if depth > MAX_NESTING:
                raise TooLarge(
                    f"{path} nests lists and mappings more than {MAX_NESTING} levels deep."
                )
            if path not in _SIZED_FIELDS and path != "params" and len(value) > MAX_LIST_ITEMS:
                raise TooLarge(
                    f"{path} has {len(value)} items; a policy reads at most {MAX_LIST_ITEMS} "
                    "in one list or mapping."
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            children = []
            for key, item in items:
                if isinstance(value, dict) and not isinstance(key, str):
                    raise Unreadable(f"{path} has a key that is not text")
                if isinstance(key, str) and len(key) > MAX_STRING_CHARS:
                    raise TooLarge(
                        f"{path} has a name of {len(key)} characters; a policy reads at most "
                        f"{MAX_STRING_CHARS}."
                    )
                children.append((f"{path}.{key}" if isinstance(value, dict) else path, item))
            stack.extend((p, v, depth + 1) for p, v in reversed(children))
        else:
            raise Unreadable(f"{path} holds a {type(value).__name__}")


def context_problem(error: TooLarge) -> str:
    """The sentence for a context that ``context_check`` refused."""
    if isinstance(error, Unreadable):
        return (
            f"The request context holds a value a policy cannot read ({error}); use text, "
            "numbers within 64 bits, true/false, lists and mappings."
        )
    return f"The request context is too large: {error}"


def worst_case_context(params: dict[str, Any]) -> dict[str, Any]:
    """The largest request context the caps allow, on the most governed route (high risk to
    production), to run every rule on at publish."""
    text = "x" * 40
    metrics = {f"metric_{i:04d}_{'m' * 24}": float(i) / MAX_METRICS for i in range(MAX_METRICS)}
    tags = {f"tag_{i:03d}": "t" * 200 for i in range(MAX_TAGS)}
    missing = [f"missing section {i}" for i in range(MAX_LIST_ITEMS)]
    return {
        "tenant": text,
        "model": text,
        "version": MAX_INTEGER,
        "tier": "high",
        "environment": "production",
        "target": "sagemaker",
        "instance_type": text,
        "replicas": 1000,
        "metrics": metrics,
        "tags": tags,
        "model_card": {
            "completeness": 0,
            "complete": False,
            "status": text,
            "approved": False,
            "missing": missing,
        },
        "drift_monitor": False,
        "monitor": {
            "requested": False,
            "endpoint": text,
            "exists": True,
            "enabled": False,
            "last_run_at": text,
            "last_verdict": text,
        },
        "cost": {"known": True, "hourly": 1e6, "monthly": 1e9, "currency": "USD"},
        "params": params,
    }


# --- Documents ------------------------------------------------------------------------------------

YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: linear on deep flow nesting


def yaml_check(document: str) -> None:
    """Refuse nesting beyond ``MAX_YAML_DEPTH`` and anchors and aliases (expansion bombs), from
    the event stream, before anything is built from the document."""
    depth = 0
    try:
        for event in yaml.parse(document, Loader=YamlLoader):
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise TooLarge(
                    f"Line {line}: YAML anchors and aliases are not allowed in a policy; write "
                    "each value out."
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise TooLarge(
                        f"Line {line}: the document is nested more than {MAX_YAML_DEPTH} levels "
                        "deep."
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as error:
        if "nesting depth" in str(error):  # libyaml's own cap (1,000), reached while scanning
            mark = getattr(error, "problem_mark", None)
            at = f"Line {mark.line + 1}: " if mark is not None else ""
            raise TooLarge(
                f"{at}the document is nested more than {MAX_YAML_DEPTH} levels deep."
            ) from None
        return  # the loader reports the syntax error with its line


def _single(tree: Any) -> Any:
    """Skip the grammar's one-child wrappers (expr, conditionalor, ... member, primary)."""
    while isinstance(tree, lark.Tree) and len(tree.children) == 1:
        if tree.data in ("list_lit", "map_lit", "exprlist", "mapinits", "member_dot_arg"):
            break
        tree = tree.children[0]
    return tree


def _params_value(tree: Any, params: dict[str, Any]) -> tuple[bool, Any]:
    """The value of ``params.a.b`` when ``tree`` is such a path."""
    names = []
    while isinstance(tree, lark.Tree) and tree.data == "member_dot":
        names.append(str(tree.children[1]))
        tree = _single(tree.children[0])
    if not (isinstance(tree, lark.Token) and str(tree) == "params"):
        return False, None
    value: Any = params
    for name in reversed(names):
        value = value.get(name) if isinstance(value, dict) else None
    return True, value


def _bound(tree: Any, params: dict[str, Any]) -> int:
    """How many items the list or mapping an expression gives can have, at most."""
    tree = _single(tree)
    if isinstance(tree, lark.Token):
        if str(tree) in _SIZED_FIELDS:
            return _SIZED_FIELDS[str(tree)]
        if str(tree) == "params":
            return len(params)
        return _ANY_LIST
    is_params, value = _params_value(tree, params)
    if is_params:
        return len(value) if isinstance(value, list | dict) else 0
    if tree.data == "list_lit":
        return len(tree.children[0].children) if tree.children else 0
    if tree.data == "map_lit":
        return len(tree.children[0].children) // 2 if tree.children else 0
    if tree.data == "member_dot" and str(tree.children[1]) == "missing":
        return MAX_LIST_ITEMS
    if tree.data == "member_dot_arg" and str(tree.children[1]) in ("map", "filter"):
        return _bound(tree.children[0], params)
    if tree.data == "addition_add":
        return sum(_bound(child, params) for child in tree.children)
    if tree.data == "expr" and len(tree.children) == 3:  # a ? b : c
        return max(_bound(tree.children[1], params), _bound(tree.children[2], params))
    return _ANY_LIST


def expression_check(tree: Any, params: dict[str, Any]) -> None:
    """Refuse a compiled rule whose nesting or comprehension cost is over the caps."""
    iterations = 0
    deepest_expression = deepest_comprehension = 0
    # (node, nested expressions, nested comprehensions, how many times the node runs)
    stack: list[tuple[Any, int, int, int]] = [(tree, 0, 0, 1)]
    while stack:
        node, depth, comprehensions, runs = stack.pop()
        if not isinstance(node, lark.Tree):
            continue
        if node.data == "expr":
            depth += 1
            deepest_expression = max(deepest_expression, depth)
        is_macro = (
            node.data == "member_dot_arg"
            and len(node.children) == 3
            and str(node.children[1]) in COMPREHENSIONS
        )
        if not is_macro:
            stack.extend((child, depth, comprehensions, runs) for child in node.children)
            continue
        receiver, _, arguments = node.children
        body_runs = min(runs * _bound(receiver, params), 10 * MAX_RULE_ITERATIONS**2)
        iterations += body_runs
        deepest_comprehension = max(deepest_comprehension, comprehensions + 1)
        stack.append((receiver, depth, comprehensions, runs))
        arguments = arguments.children if isinstance(arguments, lark.Tree) else []
        for index, argument in enumerate(arguments):
            in_body = index == len(arguments) - 1
            stack.append(
                (
                    argument,
                    depth,
                    comprehensions + 1 if in_body else comprehensions,
                    body_runs if in_body else runs,
                )
            )
    if deepest_expression > MAX_EXPRESSION_DEPTH:
        raise TooLarge(
            f"nests expressions {deepest_expression} deep; a rule may nest them at most "
            f"{MAX_EXPRESSION_DEPTH} deep"
        )
    if deepest_comprehension > MAX_COMPREHENSION_DEPTH:
        raise TooLarge(
            f"nests comprehensions {deepest_comprehension} deep (map, filter, all, exists...); "
            f"a rule may nest them at most {MAX_COMPREHENSION_DEPTH} deep"
        )
    if iterations > MAX_RULE_ITERATIONS:
        raise TooLarge(
            f"can run its comprehension bodies {iterations} times on the largest request the "
            f"portal accepts ({MAX_METRICS} metrics, {MAX_TAGS} tags, {MAX_LIST_ITEMS} items in "
            f"other lists); a rule may run them at most {MAX_RULE_ITERATIONS} times"
        )


def document_size_check(document: str) -> None:
    size = len(document.encode())
    if size > MAX_DOCUMENT_BYTES:
        raise TooLarge(
            f"The policy document has {size} bytes; a policy may have at most {MAX_DOCUMENT_BYTES}."
        )


def rules_count_check(count: int) -> None:
    if count > MAX_RULES:
        raise TooLarge(f"The policy has {count} rules; a policy may have at most {MAX_RULES}.")


def expression_length_check(expression: str) -> None:
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise TooLarge(
            f"the expression has {len(expression)} characters; a rule may have at most "
            f"{MAX_EXPRESSION_CHARS}"
        )
