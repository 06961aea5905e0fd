#!/usr/bin/env python3
"""Unit tests of gen_crds.py: the OpenAPI-to-structural conversion, the lint and the YAML output,
on small hand-made schemas shaped like the API server's. (ctest: crdgen_test, label unit.)"""

import pathlib
import sys
import unittest

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gen_crds  # noqa: E402

REF = "#/components/schemas/"

SCHEMAS = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    "test.Pair": {
        "description": "A pair.",
        "type": "object",
        "required": ["key"],
        "properties": {
            "key": {"description": "The key.", "type": "string", "default": ""},
            "op": {"description": "The operator.", "type": "string", "enum": ["In", "NotIn"]},
            "values": {"description": "Values.", "type": "array", "items": {"type": "string"}},
        },
        "x-kubernetes-map-type": "atomic",
    },
    "test.Holder": {
        "description": "Holds things.",
        "type": "object",
        "properties": {
            "pair": {"description": "The field's own words.", "default": {},
                     "allOf": [{"$ref": REF + "test.Pair"}]},
            "pairs": {
                "description": "Pairs by key.",
                "type": "array",
                "items": {"default": {}, "allOf": [{"$ref": REF + "test.Pair"}]},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["key"],
                "x-kubernetes-patch-merge-key": "key",
                "x-kubernetes-patch-strategy": "merge",
            },
            "limits": {"description": "Limits.", "type": "object",
                       "additionalProperties": {"$ref": REF + "io.k8s.apimachinery.pkg.api.resource.Quantity"}},
            "port": {"description": "A port.", "allOf": [{"$ref": REF + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]},
        },
        "x-kubernetes-unions": [{"fields-to-discriminateBy": {"pair": "Pair"}}],
    },
    "test.Loop": {"type": "object", "properties": {"next": {"allOf": [{"$ref": REF + "test.Loop"}]}}},
    "test.Untyped": {"description": "No type.", "properties": {"a": {"type": "string"}}},
    "test.Odd": {"type": "object", "discriminator": {"propertyName": "kind"}},
}


class ConverterTest(unittest.TestCase):
    def setUp(self):
        self.conv = gen_crds.Converter(SCHEMAS)

    def test_inlines_refs_and_prefers_the_field_description(self):
        holder = self.conv.definition("test.Holder")
        pair = holder["properties"]["pair"]
        self.assertEqual(pair["description"], "The field's own words.")
        self.assertEqual(pair["type"], "object")
        self.assertEqual(pair["required"], ["key"])
        self.assertEqual(pair["x-kubernetes-map-type"], "atomic")
        # An item has no description of its own: the type's is kept.
        self.assertEqual(holder["properties"]["pairs"]["items"]["description"], "A pair.")
        self.assertNotIn("$ref", repr(holder))
        self.assertNotIn("allOf", repr(holder))

    def test_drops_defaults_enums_and_patch_hints(self):
        holder = self.conv.definition("test.Holder")
        text = repr(holder)
        for word in ("default", "enum", "x-kubernetes-patch", "x-kubernetes-unions"):
            self.assertNotIn(word, text)
        pairs = holder["properties"]["pairs"]
        self.assertEqual(pairs["x-kubernetes-list-type"], "map")
        self.assertEqual(pairs["x-kubernetes-list-map-keys"], ["key"])

    def test_lists_without_a_type_become_atomic(self):
        pair = self.conv.definition("test.Pair")
        self.assertEqual(pair["properties"]["values"]["x-kubernetes-list-type"], "atomic")

    def test_quantity_and_int_or_string(self):
        holder = self.conv.definition("test.Holder")
        quantity = holder["properties"]["limits"]["additionalProperties"]
        self.assertTrue(quantity["x-kubernetes-int-or-string"])
        self.assertEqual(quantity["anyOf"], [{"type": "integer"}, {"type": "string"}])
        self.assertEqual(quantity["pattern"], gen_crds.QUANTITY_PATTERN)
        self.assertNotIn("description", quantity)  # the type's Go-serialization essay is left out
        port = holder["properties"]["port"]
        self.assertTrue(port["x-kubernetes-int-or-string"])
        self.assertNotIn("pattern", port)
        self.assertNotIn("format", port)
        self.assertEqual(port["description"], "A port.")

    def test_quantity_pattern_accepts_what_kubernetes_accepts(self):
        import re
        pattern = re.compile(gen_crds.QUANTITY_PATTERN)
        for ok in ("10Gi", "1", "500m", "1.5", "2e3", "+1k", "0.5Ti"):
            self.assertRegex(ok, pattern)
        for bad in ("10GB", "Gi", "1 Gi", "", "-"):
            self.assertNotRegex(bad, pattern)

    def test_rejects_what_a_crd_cannot_express(self):
        with self.assertRaisesRegex(gen_crds.GenError, "recursive type test.Loop -> test.Loop"):
            self.conv.definition("test.Loop")
        with self.assertRaisesRegex(gen_crds.GenError, "not structural"):
            self.conv.definition("test.Untyped")
        with self.assertRaisesRegex(gen_crds.GenError, "'discriminator' is not handled"):
            self.conv.definition("test.Odd")
        with self.assertRaisesRegex(gen_crds.GenError, "not in the OpenAPI snapshot"):
            self.conv.definition("test.Missing")

    def test_expand_overlays_our_keys_on_the_kubernetes_type(self):
        ours = {
            "type": "object",
            "properties": {
                "size": {"$k8sRef": "io.k8s.apimachinery.pkg.api.resource.Quantity",
                         "description": "Size.", "default": "10Gi"},
                "pairs": {"description": "Ours.", "type": "array", "maxItems": 4,
                          "x-kubernetes-list-type": "atomic",
                          "items": {"$k8sRef": "test.Pair"}},
            },
        }
        out = self.conv.expand(ours)
        size = out["properties"]["size"]
        self.assertEqual(size["default"], "10Gi")
        self.assertEqual(size["description"], "Size.")
        self.assertTrue(size["x-kubernetes-int-or-string"])
        self.assertEqual(out["properties"]["pairs"]["items"]["required"], ["key"])
        self.assertNotIn("$k8sRef", repr(out))
        self.assertEqual(gen_crds.refs_in_source(ours),
                         {"io.k8s.apimachinery.pkg.api.resource.Quantity", "test.Pair"})


class LintTest(unittest.TestCase):
    def test_clean_schema(self):
        schema = {"type": "object", "properties": {
            "metadata": {"type": "object"},
            "list": {"description": "A list.", "type": "array", "x-kubernetes-list-type": "map",
                     "x-kubernetes-list-map-keys": ["name"],
                     "items": {"type": "object", "required": ["name"],
                               "properties": {"name": {"description": "Name.", "type": "string"}}}}}}
        self.assertEqual(gen_crds.lint(schema), [])

    def test_finds_every_kind_of_problem(self):
        schema = {"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "plain": {"type": "string"},
                "list": {"description": "A list.", "type": "array", "items": {"type": "string"}},
                "map": {"description": "A map list.", "type": "array",
                        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object",
                                  "properties": {"name": {"description": "N.", "type": "string"}}}},
                "untyped": {"description": "No type."},
            }}}}
        problems = gen_crds.lint(schema)
        self.assertIn(".spec: no description (kubectl explain shows it)", problems)
        self.assertIn(".spec.plain: no description (kubectl explain shows it)", problems)
        self.assertIn(".spec.list: list without x-kubernetes-list-type", problems)
        self.assertIn(".spec.map: map key name must be required in the items", problems)
        self.assertIn(".spec.untyped: no type (not structural)", problems)
        self.assertEqual(len(problems), 5, problems)


class RenderTest(unittest.TestCase):
    def test_output_reads_back_and_marks_itself_generated(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "spec": {"description": "Line one.\nLine two.\n", "long": "word " * 40,
                        "pattern": r"^\d+$", "version": "1.3"}}
        text = gen_crds.render(crd, "x.yaml", "v1.2.3")
        self.assertTrue(text.startswith("# GENERATED by tools/crdgen/gen_crds.py - DO NOT EDIT."))
        self.assertIn("k8s-openapi-v1.2.3.json", text)
        self.assertEqual(yaml.safe_load(text), crd)
        self.assertIn("description: |", text)
        self.assertIn("version: '1.3'", text)  # stays a string


if __name__ == "__main__":
    unittest.main()
