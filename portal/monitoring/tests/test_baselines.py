from __future__ import annotations

import io

import pandas as pd
import pytest

from portal.core.audit import Actor
from portal.core.errors import InvalidRequest
from portal.monitoring import engine, services
from portal.monitoring.models import Baseline, BaselineSource
from portal.monitoring.profiles import profile_dump, profile_load
from portal.monitoring.tests.builders import capture, make_deployment, traffic, training_csv
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def test_a_profile_read_back_gives_the_same_drift_report():
    values, _ = traffic(3000)
    frame = pd.DataFrame(values, columns=["income", "age", "region"])
    specs = [
        engine.ColumnSpec("income", "numeric"),
        engine.ColumnSpec("age", "numeric"),
        engine.ColumnSpec("region", "categorical"),
    ]
    reference = engine.reference_profile(frame, specs)
    shifted = pd.DataFrame(traffic(1000, shift=1.0, seed=4)[0], columns=frame.columns)
    before = engine.drift_run(reference, shifted)
    after = engine.drift_run(profile_load(profile_dump(reference)), shifted)
    assert before == after


def test_an_uploaded_csv_becomes_the_versions_baseline_with_the_signature_columns(company):
    deployment = make_deployment(company.a)
    with tenant_scope(company.a):
        baseline = services.baseline_from_upload(
            version=deployment.model_version,
            content=training_csv(),
            filename="train.csv",
            prediction_column="label",
            actor=ACTOR,
        )
    assert baseline.status == "ready" and baseline.rows == 2000
    assert baseline.columns == [
        {"name": "income", "kind": "numeric"},
        {"name": "age", "kind": "numeric"},
        {"name": "region", "kind": "categorical"},
        {"name": "prediction", "kind": "numeric"},
    ]
    assert baseline.prediction_columns == ["prediction"]


def test_a_parquet_upload_replaces_the_earlier_baseline(company):
    deployment = make_deployment(company.a)
    buffer = io.BytesIO()
    pd.read_csv(io.BytesIO(training_csv(500))).to_parquet(buffer)
    with tenant_scope(company.a):
        version = deployment.model_version
        services.baseline_from_upload(
            version=version,
            content=training_csv(),
            filename="a.csv",
            prediction_column="",
            actor=ACTOR,
        )
        services.baseline_from_upload(
            version=version,
            content=buffer.getvalue(),
            filename="b.bin",
            prediction_column="",
            actor=ACTOR,
        )
        assert Baseline.objects.get().rows == 500


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (b"", "empty"),
        (b"PAR1garbage", "Parquet"),
        (b"\xff\xfe\x00\x01", "CSV"),
        (b"income,age\n", "no data rows"),
        (b"colour,size\nred,1\n", "signature"),
    ],
)
def test_a_bad_file_is_refused_with_a_sentence(company, content, sentence):
    deployment = make_deployment(company.a)
    with tenant_scope(company.a), pytest.raises(InvalidRequest, match=sentence):
        services.baseline_from_upload(
            version=deployment.model_version,
            content=content,
            filename="x.csv",
            prediction_column="",
            actor=ACTOR,
        )


def test_a_baseline_is_built_from_the_first_captured_rows(company, settings):
    settings.BASELINE_FROM_CAPTURE_ROWS = 300
    deployment = make_deployment(company.a)
    capture(deployment, 500)
    with tenant_scope(company.a):
        baseline = services.baseline_from_capture(deployment=deployment, actor=ACTOR)
    assert baseline.source == BaselineSource.CAPTURE and baseline.rows == 300
    assert "prediction" in baseline.prediction_columns


def test_a_logged_dataset_is_read_from_an_allowed_local_folder_only(company, settings, tmp_path):
    settings.BASELINE_DATASET_ROOTS = [str(tmp_path / "datasets")]
    (tmp_path / "datasets" / company.a.slug).mkdir(parents=True)
    allowed = tmp_path / "datasets" / company.a.slug / "train.csv"
    allowed.write_bytes(training_csv(800))
    deployment = make_deployment(company.a)
    version = deployment.model_version
    with tenant_scope(company.a):
        version.datasets = [{"name": "train", "source": str(allowed), "context": "training"}]
        version.save()
        assert services.baseline_from_dataset(version=version, actor=ACTOR).rows == 800

        version.datasets = [{"name": "x", "source": "/etc/passwd", "context": "training"}]
        with pytest.raises(InvalidRequest, match="outside this unit's dataset folder"):
            services.baseline_from_dataset(version=version, actor=ACTOR)
        version.datasets = [{"name": "x", "source": "s3://bucket/train.parquet"}]
        with pytest.raises(InvalidRequest, match="upload the training data"):
            services.baseline_from_dataset(version=version, actor=ACTOR)


def test_a_unit_cannot_build_a_baseline_from_another_units_dataset_file(
    company, settings, tmp_path
):
    settings.BASELINE_DATASET_ROOTS = [str(tmp_path / "datasets")]
    theirs = tmp_path / "datasets" / company.b.slug / "train.csv"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(training_csv(500))
    shared = tmp_path / "datasets" / "train.csv"  # in the root, outside every unit's folder
    shared.write_bytes(training_csv(500))
    version = make_deployment(company.a).model_version
    with tenant_scope(company.a):
        for source in (
            str(theirs),
            f"file://{theirs}",
            str(shared),
        ):
            version.datasets = [{"name": "train", "source": source, "context": "training"}]
            version.save()
            with pytest.raises(InvalidRequest, match=f"{company.a.slug}/"):
                services.check_logged_dataset(version=version)
            with pytest.raises(InvalidRequest, match=f"{company.a.slug}/"):
                services.baseline_from_dataset(version=version, actor=ACTOR)
        assert not Baseline.objects.exists()
