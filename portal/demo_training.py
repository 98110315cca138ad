"""Demo training runs: what a business unit's own pipeline would log to MLflow.

The portal never trains models; ``seed_demo`` uses this to fill a fresh MLflow with realistic
content (real scikit-learn models, logged datasets, metrics including fairness metrics computed
from the models' predictions, signatures). It talks to MLflow the way a unit's engineer does,
through the ``mlflow`` package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DemoModel:
    tenant: str
    name: str
    description: str
    versions: int
    kind: str  # "credit" or "churn"


DEMO_MODELS = [
    DemoModel(
        "retail-credit",
        "credit-scoring",
        "Probability of default for retail loan applications.",
        3,
        "credit",
    ),
    DemoModel("retail-credit", "credit-limit", "Suggested credit-card limit band.", 1, "credit"),
    DemoModel(
        "marketing",
        "churn-prediction",
        "Which subscribers are likely to leave next month.",
        2,
        "churn",
    ),
]


def credit_frame(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    generator = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "income": generator.normal(50, 15, rows),
            "debt_ratio": generator.uniform(0, 1, rows),
            "age": generator.integers(18, 80, rows).astype(float),
        }
    )
    target = (
        (features.income / 100 - features.debt_ratio + generator.normal(0, 0.1, rows)) < 0
    ).astype(int)
    return features, target


def churn_frame(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    generator = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "tenure_months": generator.integers(1, 72, rows).astype(float),
            "monthly_spend": generator.gamma(2.0, 20.0, rows),
            "support_calls": generator.poisson(1.5, rows).astype(float),
            "plan": generator.choice(["basic", "plus", "premium"], rows),
        }
    )
    risk = features.support_calls / 4 - features.tenure_months / 72 + generator.normal(0, 0.2, rows)
    return features, (risk > 0).astype(int)


# The credit data's sensitive attribute: applicants under 40 and from 40 on are the two groups.
CREDIT_AGE_GROUP_FROM = 40


def fairness_metrics(
    predictions: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> dict[str, float]:
    """Fairness of binary predictions between two groups of a sensitive attribute, computed by
    hand with numpy (the definitions of Fairlearn's metrics of the same names, without adding
    Fairlearn as a dependency):

    - demographic parity difference: the gap between the groups' shares of positive predictions;
    - equalized odds difference: the larger of the gaps between the groups' true positive rates
      and false positive rates.

    0 is parity; a group or outcome with no rows contributes no gap.
    """
    predictions, labels, groups = (np.asarray(a).astype(int) for a in (predictions, labels, groups))

    def gap(mask: np.ndarray) -> float:
        rates = [predictions[mask & (groups == g)] for g in (0, 1)]
        if any(len(r) == 0 for r in rates):
            return 0.0
        return float(abs(rates[0].mean() - rates[1].mean()))

    everyone = np.ones_like(predictions, dtype=bool)
    return {
        "fairness_demographic_parity_difference": round(gap(everyone), 4),
        "fairness_equalized_odds_difference": round(max(gap(labels == 1), gap(labels == 0)), 4),
    }


def log_demo_model(
    tracking_uri: str,
    *,
    kind: str = "credit",
    experiment: str = "portal-demo",
    rows: int = 300,
    seed: int = 7,
    registered_model_name: str | None = None,
    tags: dict[str, str] | None = None,
):
    """Train, evaluate and log one model with its dataset; returns (run_id, model_info)."""
    import warnings

    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    # The labels are integers on purpose (classifiers predict classes); MLflow's hint is noise here.
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    features, target = credit_frame(rows, seed) if kind == "credit" else churn_frame(rows, seed)
    if kind == "churn":
        features = features.assign(
            plan=features.plan.map({"basic": 0.0, "plus": 1.0, "premium": 2.0})
        )
    with mlflow.start_run(tags=tags or {}) as run:
        source = (
            "s3://credit-data/train.parquet"
            if kind == "credit"
            else "s3://marketing-data/churn.parquet"
        )
        dataset = from_pandas(
            features.assign(label=target), source=source, name=f"{kind}-train", targets="label"
        )
        mlflow.log_input(dataset, context="training")
        # The last fifth is held out, so the run carries a validation metric governance can check.
        cut = int(len(features) * 0.8)
        train_x, train_y = features.iloc[:cut], target.iloc[:cut]
        if kind == "credit":
            model = LogisticRegression(max_iter=500, C=1.0 / (1 + seed % 3)).fit(train_x, train_y)
            extra = {}
        else:
            model = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=seed).fit(
                train_x, train_y
            )
            extra = {"skops_trusted_types": ["sklearn.tree._tree.Tree"]}
        mlflow.log_params(
            {k: v for k, v in model.get_params().items() if isinstance(v, int | float | str)}
        )
        metrics = {
            "accuracy": float(model.score(train_x, train_y)),
            "val_accuracy": float(model.score(features.iloc[cut:], target.iloc[cut:])),
        }
        if kind == "credit":
            # Measured on the whole logged dataset: the held-out fifth alone is too few rows
            # per group for a stable gap.
            metrics |= fairness_metrics(
                model.predict(features),
                target.to_numpy(),
                (features.age >= CREDIT_AGE_GROUP_FROM).to_numpy(),
            )
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=["scikit-learn"],
            signature=mlflow.models.infer_signature(features, target),
            registered_model_name=registered_model_name,
            **extra,
        )
    return run.info.run_id, info


def ensure_demo_models(tracking_uri: str) -> list[str]:
    """Log and register the demo models that are missing; returns what it did, line by line."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    done = []
    for spec in DEMO_MODELS:
        found = client.search_registered_models(filter_string=f"name = '{spec.name}'")
        have = max((int(v.version) for v in found[0].latest_versions), default=0) if found else 0
        for seed in range(have, spec.versions):
            log_demo_model(
                tracking_uri,
                kind=spec.kind,
                seed=seed + 1,
                registered_model_name=spec.name,
                experiment=f"{spec.tenant}-{spec.name}",
            )
        if have < spec.versions:
            client.set_registered_model_tag(spec.name, "portal.tenant", spec.tenant)
            client.update_registered_model(spec.name, description=spec.description)
            if spec.versions > 1:
                client.set_registered_model_alias(spec.name, "champion", str(spec.versions - 1))
            done.append(f"{spec.name}: logged {spec.versions - have} version(s) for {spec.tenant}")
    return done


def ensure_webhook(tracking_uri: str, *, url: str, secret: str) -> str:
    """Point MLflow's registry webhook at the portal (MLflow 3.3+, SQL backend)."""
    from portal.catalog.mlflow_adapter import MlflowRegistry

    done = MlflowRegistry(tracking_uri).point_webhook(url=url, secret=secret)
    return f"MLflow webhook {done}: {url}"
