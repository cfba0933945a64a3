"""``/api/jobs``: score an uploaded video or pose file against a reference, in the background.

``POST /api/jobs`` takes the upload (multipart: ``file``, ``reference``, ``mirror``,
``speed``), stores it in a private temporary folder and answers 202 with the job; ``GET
/api/jobs/{id}`` reports progress and, once done, the ``ScoreReport``. The upload is deleted
when the job ends, however it ends; a killed server's uploads are deleted when the next one
starts (:mod:`app.server.uploads`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from pydantic import BaseModel, Field

from app import sequence
from app.errors import UserError
from app.frames import probe_video
from app.pose import extract_video
from app.report_schema import Report
from app.routine import Target
from app.scoring import ScoreOptions
from app.sequence import PoseSequence
from app.server.deps import StateDep
from app.server.errors import error_responses
from app.server.references import NAME_SCHEMA_PATTERN, target_or_404
from app.server.tasks import Job, JobLimitError, JobStatus, Progress
from app.server.uploads import new_upload_folder

router = APIRouter(prefix="/api/jobs", tags=["jobs"],
                   responses=error_responses(400, 404, 413, 422, 429))

EXTRACTION_SHARE = 0.9
"""Of a video job's progress, the part spent finding poses (scoring is the rest)."""
_COPY_CHUNK = 1 << 20


class JobPublic(BaseModel):
    """A scoring job."""

    id: str
    label: str = Field(description="What is scored against what.")
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    result: Report | None = Field(description="The ScoreReport once done.")
    error: str | None = Field(description="Why the job failed, once failed.")

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        result = None if job.result is None else Report.model_validate(job.result)
        return cls(id=job.id, label=job.label, status=job.status, progress=job.progress,
                   result=result, error=job.error)


def is_pose_file(name: str, head: bytes) -> bool:
    """A ``.pose.json`` document rather than a video, by name or by its first bytes."""
    return name.endswith((sequence.SUFFIX, ".json")) or head.lstrip()[:1] == b"{"


def _display_name(upload: UploadFile) -> str:
    name = Path(upload.filename or "upload").name
    return name[:100] or "upload"


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def create_job(
    state: StateDep,
    file: Annotated[UploadFile, File(description="A video, or a .pose.json file.")],
    reference: Annotated[str, Form(max_length=100,
                                   json_schema_extra={"pattern": NAME_SCHEMA_PATTERN},
                                   description="A step's name, else a routine's (the "
                                               "report then has parts).")],
    mirror: Annotated[bool, Form(description="The learner mirrored the reference.")] = True,
    speed: Annotated[float, Form(ge=0.25, le=2.0, description="Speed practised at.")] = 1.0,
) -> JobPublic:
    """Queue the upload for scoring against ``reference``; poll the job for its progress."""
    target = target_or_404(state, reference)
    name = _display_name(file)
    folder = new_upload_folder()
    try:
        path = folder / ("attempt" + "".join(Path(name).suffixes[-2:]))
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, _COPY_CHUNK)
        if path.stat().st_size == 0:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"{name}: is empty (0 bytes).")
        attempt = _checked_upload(path, name)
        options = ScoreOptions(mirror=mirror, speed=speed)
        job = state.jobs.submit(
            f"{name} against {reference}",
            lambda progress: _score_upload(path, name, attempt, target, options,
                                           state.model_path, progress),
            cleanup=lambda: shutil.rmtree(folder, ignore_errors=True),
        )
    except JobLimitError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"{exc}.") from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return JobPublic.of(job)


@router.get("/{job_id}")
def get_job(state: StateDep, job_id: str) -> JobPublic:
    """A job's status, progress and, when done, its result."""
    job = state.jobs.get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no job {job_id[:40]!r}.")
    return JobPublic.of(job)


def _checked_upload(path: Path, name: str) -> PoseSequence | None:
    """Parse a pose file, or read a video's header, before queueing: a bad upload is a 422.

    Returns the parsed sequence, or ``None`` for a video (its poses are found by the job).
    Damage deep inside a video shows only when it is decoded, so it fails the job instead.
    """
    try:
        with path.open("rb") as handle:
            if is_pose_file(name, handle.read(64)):
                return sequence.loads(path.read_bytes(), origin=name)
        probe_video(path)
        return None
    except UserError as exc:
        # The file name leads the sentence as typed, so it is not capitalised.
        detail = str(exc).replace(str(path), name)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None


def _score_upload(path: Path, name: str, attempt: PoseSequence | None, target: Target,
                  options: ScoreOptions, model_path: Path, progress: Progress) -> dict[str, Any]:
    """The job's body; errors name the upload, never the private folder it sits in."""
    try:
        if attempt is None:
            attempt = extract_video(
                path, model_path=model_path, background=True,
                progress=lambda done, total: progress(EXTRACTION_SHARE * done / total)
                if total else None,
            )
        progress(EXTRACTION_SHARE)
        return target.score(attempt, options).to_dict()
    except UserError as exc:
        raise UserError(str(exc).replace(str(path), name)) from exc
