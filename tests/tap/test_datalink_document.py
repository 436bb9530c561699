"""The pure DataLink writers: links document columns and escaping, and which result
column a TAP result's DataLink descriptor refers to."""

from __future__ import annotations

import io

from astropy.io.votable import parse

from provdb.votable.fields import Field
from tap.datalink.document import Link, ServiceDescriptor, links_document
from tap.votable.document import (
    DATALINK_FIELD_ID,
    datalink_column,
    datalink_field_id,
    votable_stream,
)

DID = Field("obs_publisher_did", "char", "*", ucd="meta.ref.ivoid")
ENTITY = Field("id", "char", "*", ucd="meta.id;meta.main", utype="voprov:Entity.id")
OTHER = Field("entity_id", "char", "*", ucd="meta.id")
NAME = Field("name", "unicodeChar", "*")


def test_the_descriptor_prefers_the_publisher_did_then_entity_ids() -> None:
    assert datalink_column([NAME, ENTITY, DID]) == 2
    assert datalink_column([NAME, OTHER, ENTITY]) == 2
    assert datalink_column([NAME, OTHER]) == 1
    assert datalink_column([NAME, Field("n", "long")]) is None
    # the FIELD's XML ID is its name where XML allows it (astropy names columns by ID)
    assert datalink_field_id(DID) == "obs_publisher_did"
    assert datalink_field_id(Field("2 x", "char", "*")) == DATALINK_FIELD_ID


def test_links_document_parses_with_escaped_text_and_descriptors() -> None:
    doc = links_document(
        [
            Link(id="ivo://x/y?a&b", semantics="#this", access_url="file:///d/a<b>.fits",
                 content_length=12, entity_id="a&b"),
            Link(id="nope", semantics="#this", error_message="NotFoundFault: no \"nope\""),
        ],
        [ServiceDescriptor("sd", "S", "http://h/provsap", "d", fixed=(("DEPTH", "ALL"),))],
    )  # fmt: skip
    votable = parse(io.BytesIO(doc))
    table = votable.get_first_table().to_table()
    assert table.colnames[:8] == [
        "ID", "access_url", "service_def", "error_message", "semantics", "description",
        "content_type", "content_length",
    ]  # fmt: skip
    assert list(table["ID"]) == ["ivo://x/y?a&b", "nope"]
    assert table["access_url"][0] == "file:///d/a<b>.fits"
    assert table["error_message"][1] == 'NotFoundFault: no "nope"'
    resource = votable.resources[1]
    assert resource.type == "meta" and resource.utype == "adhoc:service"
    assert resource.ID == "sd"


def test_result_documents_carry_the_descriptor_in_both_serializations() -> None:
    for serialization in ("binary2", "tabledata"):
        body = b"".join(
            votable_stream(
                [NAME, DID], [[("n", "ivo://x?1")]], serialization=serialization,
                datalink="http://h/datalink/links",
            )
        )  # fmt: skip
        votable = parse(io.BytesIO(body))
        field = votable.get_first_table().get_field_by_id("obs_publisher_did")
        assert field.name == "obs_publisher_did"
        service = votable.resources[1]
        assert service.utype == "adhoc:service"
        ref = service.groups[0].entries[0]
        assert (ref.name, ref.ref) == ("ID", "obs_publisher_did")
        assert votable.get_first_table().to_table()["obs_publisher_did"][0] == "ivo://x?1"
    plain = b"".join(votable_stream([NAME], [[("n",)]], datalink="http://h/datalink/links"))
    assert b"adhoc:service" not in plain
