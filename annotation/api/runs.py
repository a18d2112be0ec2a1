"""REST views of training runs and their schedules, shared by reward-model and alignment runs: list and create per
project, detail and cancel per run, a project's schedule — all for the project's managers (and staff)."""

from collections.abc import Callable

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors
from annotation.errors import NotFound
from annotation.models import Membership

MANAGER = (Membership.Role.MANAGER,)


class RunInput(serializers.Serializer):
    config = serializers.DictField()
    split_seed = serializers.IntegerField(default=0)


def run_views(*, model, output: type[serializers.Serializer], create: Callable, cancel: Callable):
    """(list-create view, detail view, cancel view) for one kind of run record."""

    def run_for_manager(request, run_id: int):
        return selectors.managed_object(queryset=model.objects.all(), pk=run_id, user=request.user, what="run")

    class ListCreate(APIView):
        @extend_schema(responses=output(many=True))
        def get(self, request, slug: str):
            project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
            return Response(output(model.objects.filter(project=project)[:50], many=True).data)

        @extend_schema(request=RunInput, responses={202: output})
        def post(self, request, slug: str):
            project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
            data = RunInput(data=request.data)
            data.is_valid(raise_exception=True)
            run = create(project=project, user=request.user, **data.validated_data)
            return Response(output(run).data, status=status.HTTP_202_ACCEPTED)

    class Detail(APIView):
        @extend_schema(responses=output)
        def get(self, request, run_id: int):
            return Response(output(run_for_manager(request, run_id)).data)

    class Cancel(APIView):
        @extend_schema(request=None, responses=output)
        def post(self, request, run_id: int):
            return Response(output(cancel(run=run_for_manager(request, run_id))).data)

    name = model.__name__
    for view, suffix in ((ListCreate, "ListCreateApi"), (Detail, "DetailApi"), (Cancel, "CancelApi")):
        view.__name__ = view.__qualname__ = f"{name}{suffix}"  # distinct names in the OpenAPI schema
    return ListCreate, Detail, Cancel


def schedule_view(*, model, input_serializer: type[serializers.Serializer], fields: list[str], save: Callable,
                  what: str):
    """GET / PUT of a project's one schedule row of `model` (managers): 404 until one is set."""

    class Output(serializers.ModelSerializer):
        class Meta:
            pass

    Output.Meta.model, Output.Meta.fields = model, fields
    Output.__name__ = f"{model.__name__}Output"

    class ScheduleApi(APIView):
        @extend_schema(responses=Output)
        def get(self, request, slug: str):
            project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
            schedule = model.objects.filter(project=project).first()
            if schedule is None:
                raise NotFound(f"This project has no {what}.")
            return Response(Output(schedule).data)

        @extend_schema(request=input_serializer, responses=Output)
        def put(self, request, slug: str):
            project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
            data = input_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            return Response(Output(save(project=project, **data.validated_data)).data)

    ScheduleApi.__name__ = ScheduleApi.__qualname__ = f"{model.__name__}Api"
    return ScheduleApi
