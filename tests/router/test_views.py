"""A recipient whose view withholds nothing gets the canonical bytes as they are: prove they are the same."""

from __future__ import annotations

import json

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.partners import Profiles
from passerelle.core.views import ViewPlans
from passerelle.settings import PROJECT_ROOT, Settings

EXAMPLES = PROJECT_ROOT / "contracts" / "examples"


def test_a_full_view_delivers_exactly_the_canonical_record() -> None:
    settings = Settings()
    catalogue = Catalogue.load(settings.schemas_dir)
    profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
    codec, typed, views = AvroCodec(catalogue), TypedContracts(catalogue), ViewPlans(catalogue)
    full = partial = 0
    for profile in profiles:
        for subject, reception in profile.receives.items():
            schema = catalogue.latest(subject)
            for path in sorted((EXAMPLES / subject / "valid").glob("*.json")):
                record = typed.validate(subject, json.loads(path.read_text(encoding="utf-8")))
                minimised, _ = views.apply(schema, record, reception)
                same = codec.encode(subject, minimised) == codec.encode(subject, record)
                if views.withholds_nothing(schema, reception):
                    full += 1
                    assert same, (profile.id, subject, path.name)
                else:
                    partial += 1
    assert full and partial  # both kinds of view are exercised
