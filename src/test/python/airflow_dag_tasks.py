"""Reads an Airflow DAG file with ast, without Airflow, and prints its tasks' bash commands and edges as JSON.

Usage: python3 src/test/python/airflow_dag_tasks.py deploy/airflow/cellcircuits_dag.py

Output: {"dag": {"dag_id", "max_active_runs", "retries", "params"}, "tasks": {task_id: bash_command},
"edges": [[upstream task_id, downstream task_id], ...]}. DeployDefinitionsTest compares it with the stage registry
and with what jobs/spark-submit.sh builds.

Airflow is not installed in the build, so the file is never imported: its module-level constants are evaluated one
assignment at a time (Variable.get(name, default) reads as default, the value a fresh Airflow deployment gets), and
the statements inside `with DAG(...)` are walked by a small interpreter that knows assignments, `for` loops,
BashOperator(...) and `a >> b`. Anything else there stops it with the line number: a DAG shape this reader does not
understand must fail the test, not be skipped.
"""
import ast
import datetime
import json
import sys


class Variable:
    """Stands in for airflow.models.Variable: the default, as on a deployment where the Variable is unset."""

    @staticmethod
    def get(key, default_var=None, **_):
        if default_var is None:
            raise ValueError("Variable.get(%r) has no default; the DAG cannot be read without Airflow" % key)
        return default_var


class Param:
    """Stands in for airflow.models.param.Param: only its default matters here."""

    def __init__(self, default=None, **_):
        self.default = default


class Task:
    def __init__(self, task_id, bash_command):
        self.task_id = task_id
        self.bash_command = bash_command


class BashOperator:
    """Marks the calls the interpreter turns into tasks; never called."""


STUBS = {"Variable": Variable, "Param": Param, "BashOperator": BashOperator}


def fail(node, message):
    raise SystemExit("%s:%d: %s" % (sys.argv[1], getattr(node, "lineno", 0), message))


def evaluate(node, scope):
    # scope is the globals, so comprehensions see the DAG's names too; it holds no builtins, so an expression can
    # reach only what the DAG file defined and the stubs.
    return eval(compile(ast.Expression(node), sys.argv[1], "eval"), scope)


def assign(target, value, scope):
    if isinstance(target, ast.Name):
        scope[target.id] = value
    elif isinstance(target, ast.Tuple):
        values = list(value)
        if len(values) != len(target.elts):
            fail(target, "cannot unpack %d values into %d names" % (len(values), len(target.elts)))
        for t, v in zip(target.elts, values):
            assign(t, v, scope)
    elif isinstance(target, ast.Subscript):
        evaluate(target.value, scope)[evaluate(target.slice, scope)] = value
    else:
        fail(target, "cannot assign to %s" % type(target).__name__)


def is_call_to(node, name):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def keywords(call):
    return {k.arg: k.value for k in call.keywords}


def task_of(call, scope):
    kw = keywords(call)
    if "task_id" not in kw or "bash_command" not in kw:
        fail(call, "BashOperator without task_id= and bash_command=")
    return Task(evaluate(kw["task_id"], scope), evaluate(kw["bash_command"], scope))


def tasks_in(value, node):
    items = value if isinstance(value, list) else [value]
    for t in items:
        if not isinstance(t, Task):
            fail(node, "'>>' between things that are not BashOperator tasks")
    return items


def run(statements, scope, out):
    for stmt in statements:
        if isinstance(stmt, ast.Assign) and is_call_to(stmt.value, "BashOperator"):
            task = task_of(stmt.value, scope)
            if task.task_id in out["tasks"]:
                fail(stmt, "task %s defined twice" % task.task_id)
            out["tasks"][task.task_id] = task.bash_command
            for target in stmt.targets:
                assign(target, task, scope)
        elif isinstance(stmt, ast.Assign):
            value = evaluate(stmt.value, scope)
            for target in stmt.targets:
                assign(target, value, scope)
        elif isinstance(stmt, ast.For):
            for item in evaluate(stmt.iter, scope):
                assign(stmt.target, item, scope)
                run(stmt.body, scope, out)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.BinOp) \
                and isinstance(stmt.value.op, ast.RShift):
            ups = tasks_in(evaluate(stmt.value.left, scope), stmt)
            downs = tasks_in(evaluate(stmt.value.right, scope), stmt)
            out["edges"].extend([u.task_id, d.task_id] for u in ups for d in downs)
        else:
            fail(stmt, "statement %s is not understood inside the DAG" % type(stmt).__name__)


def dag_of(call, scope):
    kw = keywords(call)
    params = evaluate(kw["params"], scope) if "params" in kw else {}
    default_args = kw.get("default_args")
    retries = None
    if isinstance(default_args, ast.Dict):
        for k, v in zip(default_args.keys, default_args.values):
            if isinstance(k, ast.Constant) and k.value == "retries":
                retries = evaluate(v, scope)
    return {
        "dag_id": evaluate(kw["dag_id"], scope),
        "max_active_runs": evaluate(kw["max_active_runs"], scope) if "max_active_runs" in kw else None,
        "retries": retries,
        "params": {name: p.default if isinstance(p, Param) else p for name, p in params.items()},
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        tree = ast.parse(f.read(), sys.argv[1])
    scope = {"__builtins__": {}, "datetime": datetime.datetime, "timedelta": datetime.timedelta,
             "__doc__": ast.get_docstring(tree)}
    out = {"dag": None, "tasks": {}, "edges": []}
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            # datetime is in scope; Airflow's names are the stubs above
            for alias in stmt.names:
                name = alias.asname or alias.name
                if name not in scope and name not in STUBS and name != "DAG":
                    fail(stmt, "import of %s is not understood" % name)
                scope.update({name: STUBS[name]} if name in STUBS else {})
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            pass  # the docstring
        elif isinstance(stmt, ast.Assign):
            value = evaluate(stmt.value, scope)
            for target in stmt.targets:
                assign(target, value, scope)
        elif isinstance(stmt, ast.With) and len(stmt.items) == 1 and is_call_to(stmt.items[0].context_expr, "DAG"):
            if out["dag"] is not None:
                fail(stmt, "a second DAG in one file")
            out["dag"] = dag_of(stmt.items[0].context_expr, scope)
            run(stmt.body, scope, out)
        else:
            fail(stmt, "module-level statement %s is not understood" % type(stmt).__name__)
    if out["dag"] is None:
        fail(tree, "no `with DAG(...)` block")
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
