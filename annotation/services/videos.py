"""Registering video files that already lie under MEDIA_ROOT: probed and deduplicated by content hash."""

from pathlib import Path

from django.conf import settings

from annotation.errors import InvalidInput
from annotation.models import Video
from annotation.probe import ProbeError, probe_video


def media_relative(path: Path) -> str:
    """The path relative to MEDIA_ROOT, refusing anything that resolves outside it (.., symlinks)."""
    root = Path(settings.MEDIA_ROOT).resolve()
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidInput(f"{path}: outside the media root", field_errors={"path": ["Outside the media root."]})
    return str(resolved.relative_to(root))


def video_register_file(*, path: Path, generator: str = "") -> Video:
    """The Video for a file under MEDIA_ROOT; a file registered twice (same content) is one Video."""
    relative = media_relative(path)
    try:
        probe = probe_video(Path(settings.MEDIA_ROOT) / relative)
    except ProbeError as error:
        raise InvalidInput(str(error), field_errors={"path": [str(error)]}) from error
    video, _ = Video.objects.get_or_create(
        sha256=probe.sha256,
        defaults={
            "file": relative,
            "generator": generator,
            "fps": probe.fps,
            "num_frames": probe.num_frames,
            "width": probe.width,
            "height": probe.height,
            "duration": probe.duration,
            "codec": probe.codec,
        },
    )
    return video
