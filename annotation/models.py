"""The annotation data model. Every invariant the services rely on is also a database constraint."""

import copy
import random

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import MD5, Greatest, Least

from annotation.checklists import DEFAULT_CHECKLIST

LABELS = ("A", "B", "same")
LABEL_CHOICES = [(label, label) for label in LABELS]
MOS_FIELDS = ("mos_a_vq", "mos_a_mq", "mos_a_ta", "mos_b_vq", "mos_b_mq", "mos_b_ta")


def default_checklist() -> dict:
    return copy.deepcopy(DEFAULT_CHECKLIST)


def random_queue_key() -> float:
    return random.random()


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    checklist = models.JSONField(default=default_checklist, blank=True)
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Distinct annotators per comparison (K).")
    lease_ttl_seconds = models.PositiveIntegerField(default=600)
    gold_rate = models.FloatField(default=0.0, help_text="Share of assignments drawn from gold comparisons.")
    asks_overall = models.BooleanField(default=False)
    asks_mos = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(condition=Q(lease_ttl_seconds__gte=10), name="project_lease_ttl_min"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=1), name="project_gold_rate_unit"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def dimensions(self) -> list[str]:
        return ["VQ", "MQ", "TA", "Overall"] if self.asks_overall else ["VQ", "MQ", "TA"]


class Membership(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager"
        ANNOTATOR = "annotator"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique_user_project"),
            models.CheckConstraint(condition=Q(role__in=["manager", "annotator"]), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.project}"


class Prompt(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField()
    category = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            # Hashing keeps the unique index small for long prompts (VBench prompts run to ~700 characters).
            models.UniqueConstraint(F("project"), MD5("text"), name="prompt_unique_text_per_project"),
            models.CheckConstraint(condition=~Q(text=""), name="prompt_text_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class Video(models.Model):
    file = models.FileField(upload_to="videos/", max_length=500, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    generator = models.CharField(max_length=200, blank=True)
    fps = models.FloatField()
    num_frames = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration = models.FloatField()
    codec = models.CharField(max_length=40, blank=True)
    sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(file="") & ~Q(url="")) | (~Q(file="") & Q(url="")), name="video_file_xor_url"
            ),
            models.CheckConstraint(condition=Q(fps__gt=0), name="video_fps_positive"),
            models.CheckConstraint(condition=Q(num_frames__gt=0), name="video_frames_positive"),
            models.CheckConstraint(condition=Q(duration__gte=0), name="video_duration_non_negative"),
        ]

    def __str__(self) -> str:
        return self.file.name or self.url


class Comparison(models.Model):
    """A triplet (prompt, video A, video B). `remaining` = K − judgements − live leases, kept by the services.

    Keeping the count on the row makes "is there a free slot" an index condition instead of a count per
    candidate, which is what keeps `next` flat as a project grows.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comparisons")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="comparisons")
    video_a = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="+")
    video_b = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="+")
    is_gold = models.BooleanField(default=False)
    gold_labels = models.JSONField(null=True, blank=True, help_text='e.g. {"VQ": "A", "MQ": "same", "TA": "B"}')
    remaining = models.PositiveSmallIntegerField()
    judgement_count = models.PositiveIntegerField(default=0)
    # Serving order: lower first. Random by default so that concurrent annotators start at different places;
    # negative values put a comparison ahead of the random queue (active selection).
    queue_key = models.FloatField(default=random_queue_key)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("project"), F("prompt"), Least("video_a", "video_b"), Greatest("video_a", "video_b"),
                name="comparison_unique_unordered_pair",
            ),
            models.CheckConstraint(condition=~Q(video_a=F("video_b")), name="comparison_distinct_videos"),
            models.CheckConstraint(condition=Q(is_gold=False) | Q(gold_labels__isnull=False), name="gold_has_labels"),
            models.CheckConstraint(condition=Q(is_gold=False) | Q(remaining=0), name="gold_has_no_slots"),
        ]
        indexes = [
            # The queue: only comparisons with a free slot are in it, in serving order.
            models.Index(
                fields=["project", "queue_key"], name="comparison_open_queue",
                condition=Q(remaining__gt=0, is_gold=False),
            ),
            models.Index(fields=["project", "queue_key"], name="comparison_gold_queue", condition=Q(is_gold=True)),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt}"


class Assignment(models.Model):
    """A lease of one comparison slot to one annotator. One row per (comparison, annotator), reused on reclaim."""

    class State(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        EXPIRED = "expired"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    left_is_a = models.BooleanField(help_text="Whether video A was shown on the left.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="assignment_unique_per_annotator"),
            # One live lease per annotator and project: a second `next` returns it instead of claiming more.
            models.UniqueConstraint(
                fields=["annotator", "project"], condition=Q(state="active"), name="assignment_one_active_lease"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["active", "submitted", "skipped", "expired"]), name="assignment_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="assignment_active_expiry", condition=Q(state="active")),
        ]

    def __str__(self) -> str:
        return f"assignment #{self.pk} ({self.state})"


class Judgement(models.Model):
    """Labels in A/B terms (never left/right), one per comparison and annotator."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judgements")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgements", null=True, blank=True
    )
    assignment = models.OneToOneField(
        Assignment, on_delete=models.PROTECT, related_name="judgement", null=True, blank=True
    )
    source = models.CharField(max_length=64, default="annotator", help_text='"annotator" or an import source.')
    vq = models.CharField(max_length=4, choices=LABEL_CHOICES)
    mq = models.CharField(max_length=4, choices=LABEL_CHOICES)
    ta = models.CharField(max_length=4, choices=LABEL_CHOICES)
    overall = models.CharField(max_length=4, choices=LABEL_CHOICES, blank=True)
    checklist = models.JSONField(default=dict, blank=True, help_text='{"A": {"VQ": [keys]}, "B": {...}}')
    mos_a_vq = models.PositiveSmallIntegerField(null=True, blank=True)
    mos_a_mq = models.PositiveSmallIntegerField(null=True, blank=True)
    mos_a_ta = models.PositiveSmallIntegerField(null=True, blank=True)
    mos_b_vq = models.PositiveSmallIntegerField(null=True, blank=True)
    mos_b_mq = models.PositiveSmallIntegerField(null=True, blank=True)
    mos_b_ta = models.PositiveSmallIntegerField(null=True, blank=True)
    lead_time_ms = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    MOS_FIELDS = MOS_FIELDS

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="judgement_unique_per_annotator"),
            models.UniqueConstraint(
                fields=["comparison", "source"], condition=Q(annotator__isnull=True),
                name="judgement_unique_per_import_source",
            ),
            models.UniqueConstraint(
                fields=["annotator", "idempotency_key"], condition=~Q(idempotency_key=""),
                name="judgement_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(vq__in=LABELS) & Q(mq__in=LABELS) & Q(ta__in=LABELS) & Q(overall__in=[*LABELS, ""]),
                name="judgement_labels_valid",
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"judgement_{name}_range",
                )
                for name in MOS_FIELDS
            ],
        ]

    def __str__(self) -> str:
        return f"judgement #{self.pk} VQ={self.vq} MQ={self.mq} TA={self.ta}"


class Job(models.Model):
    """A background import or export, run by a Celery worker; its progress and report are shown to managers."""

    class Kind(models.TextChoices):
        IMPORT = "import"
        EXPORT = "export"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    params = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    output = models.CharField(max_length=500, blank=True, help_text="The finished export file.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="job_progress_unit"),
            models.CheckConstraint(condition=Q(kind__in=["import", "export"]), name="job_kind_valid"),
            models.CheckConstraint(
                condition=Q(state__in=["queued", "running", "succeeded", "failed"]), name="job_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"
