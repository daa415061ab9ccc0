"""Rich progress bars for the library's ``progress(task, completed, total)`` callbacks."""

from __future__ import annotations

from rich.progress import Progress, TaskID


class ProgressBars:
    """Turns ``progress(task, completed, total[, metrics])`` calls into rich progress bars.

    One bar per task name; ``metrics`` fills a ``{task.fields[metrics]}`` column where the
    progress display has one (DQMQ training shows its loss and accuracy there).
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, completed: int, total: int, metrics: str = "") -> None:  # noqa: D102
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total, metrics="")
        self.progress.update(self.tasks[task], completed=completed, total=total, metrics=metrics)
