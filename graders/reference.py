"""A lab's reference as a submission: most labs grade ``solution/`` as it is; some need steps.

A lab whose submissions are repositories (git history, a filled DVC remote) cannot keep one inside
ours. Its ``solution/STEPS.sh`` holds the commands a learner types, in order; running them in the
sandbox runner on a copy of ``solution/`` (without ``STEPS.sh``) makes the submission. Mutants of
such a lab patch the files, ``STEPS.sh`` or both.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from graders.errors import GraderError

STEPS = "STEPS.sh"
STEPS_TIMEOUT = 600


def has_steps(folder: Path) -> bool:
    """True when ``folder`` becomes a submission only after its ``STEPS.sh`` runs."""
    return (folder / STEPS).is_file()


def make_submission(
    folder: Path, target: Path, progress: Callable[[str], None] = lambda _: None
) -> Path:
    """Run ``folder/STEPS.sh`` in the sandbox runner on a copy of ``folder``; copy the result
    (with its ``.git`` and anything else the steps made) to ``target`` and return it."""
    # imported here: ``has_steps`` is asked before every grading of a reference, and needs none
    from graders.containers.cleanup import remove_run_resources
    from graders.containers.engine import connect
    from graders.containers.sandbox import runner_image
    from graders.containers.workspace import (
        VERSION_CONTROL_ENV,
        VERSION_CONTROL_SETUP,
        open_workspace,
        stage_readable,
    )

    client = connect()
    run_id = f"steps-{uuid.uuid4().hex[:8]}"
    try:
        image = runner_image(client, progress)
        progress(f"running {folder.name}/{STEPS} in the sandbox")
        with tempfile.TemporaryDirectory(prefix="mlops-labs-steps-") as temporary:
            source = stage_readable(folder, Path(temporary) / "source")
            with open_workspace(
                client,
                image,
                run_id=run_id,
                mounts={source: "/source"},
                env=VERSION_CONTROL_ENV,
                setup=VERSION_CONTROL_SETUP,
            ) as workspace:
                done = workspace.run(
                    f"cp -r /source /work/repo && rm /work/repo/{STEPS} && cd /work/repo "
                    f"&& bash /source/{STEPS}",
                    timeout=STEPS_TIMEOUT,
                )
                if not done.ok:
                    raise GraderError(
                        f"{folder / STEPS} failed (exit {done.exit_code}):\n"
                        + "\n".join((done.stdout + done.stderr).splitlines()[-20:]),
                        "fix the lab's STEPS.sh; it must run in the sandbox runner image",
                    )
                return workspace.export("/work/repo", target)
    finally:
        remove_run_resources(client, run_id)
        client.close()
