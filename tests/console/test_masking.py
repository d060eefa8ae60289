"""What the console shows of a DLQ record's body by default: no personal value, whatever the format."""

from __future__ import annotations

import orjson

from services.console.masking import masked_body

NIR = "184127645108946"  # a well-formed NIR, key included


def test_json_masks_personal_keys_and_values_in_any_text() -> None:
    body = orjson.dumps(
        {
            "idDossier": "D-1",
            "jeune": {"nomNaissance": "Martin", "prenom": "Léa", "courriel": "lea@example.org"},
            "notes": [f"NIR {NIR}", "appeler le 06 12 34 56 78"],
            "numero": int(NIR),
        }
    )
    shown = orjson.loads(masked_body(body))
    assert shown == {
        "idDossier": "D-1",
        "jeune": {"nomNaissance": "***", "prenom": "***", "courriel": "***"},
        "notes": ["NIR ***", "appeler le ***"],
        "numero": "***",
    }


def test_csv_masks_personal_columns() -> None:
    body = "idCandidature;nom;prenom;statut\nC-1;Martin;Léa;ADMIS\nC-2;;Jean;REFUSE\n".encode()
    assert masked_body(body) == "idCandidature;nom;prenom;statut\nC-1;***;***;ADMIS\nC-2;;***;REFUSE\n"


def test_xml_masks_personal_elements() -> None:
    body = b'<dossier><nom type="naissance">Martin</nom><ville>Tours</ville><x:prenom>L\xc3\xa9a</x:prenom></dossier>'
    assert (
        masked_body(body)
        == '<dossier><nom type="naissance">***</nom><ville>Tours</ville><x:prenom>***</x:prenom></dossier>'
    )


def test_unreadable_text_still_loses_its_nir_email_and_phone() -> None:
    shown = masked_body(f'{{"casse {NIR} lea@example.org 0612345678'.encode())
    assert NIR not in shown and "lea@example.org" not in shown and "0612345678" not in shown
