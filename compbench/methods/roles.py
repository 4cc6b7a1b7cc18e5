"""Which LoRA plays which part: the role of a single task's LoRA and the chain of tasks a sub-task composes.

A compositional sub-task ``T2(T1(x))`` uses the main task's LoRA (``sum``, ``reply``) and one LoRA per
auxiliary task (``tr-xx``, ``tone-xx``) in chain order (the three-way family has two). A bundle names each
adapter's single task (``BundleAdapter.task``); its role follows from that task.
"""

from __future__ import annotations

from compbench.methods.spec import Role
from compbench.tasks import get_task

MAIN_TASKS: tuple[str, ...] = ("sum", "reply")


def role_of_task(task_id: str) -> Role:
    """``main`` for sum / reply, ``aux`` for tr-xx / tone-xx, ``joint`` for a compositional sub-task."""
    task = get_task(task_id)
    if task.kind != "single":
        return "joint"
    return "main" if task.main in MAIN_TASKS else "aux"


def chain(subtask_id: str) -> tuple[str, ...]:
    """The single tasks a sub-task composes, in order: the main task, then each auxiliary task."""
    task = get_task(subtask_id)
    return task.steps if task.kind != "single" else (task.id,)


def chain_roles(subtask_id: str) -> tuple[tuple[Role, str], ...]:
    """``((role, task), ...)`` along :func:`chain`: ``(("main", "sum"), ("aux", "tr-es"))``."""
    return tuple((role_of_task(task), task) for task in chain(subtask_id))
