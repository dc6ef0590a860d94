package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CircuitTracerJsonTest {

  /**
   * The fields and types of circuit-tracer's graph JSON, as declared by the pydantic models in
   * {@code circuit_tracer/frontend/graph_models.py} (circuit-tracer 0.4.1, commit
   * 4bb8c0ea10bde09727e14565ec8469656880da53): Metadata, QParams, Node, Link under Model {metadata, qParams, nodes,
   * links}. One line a field: path, type; a trailing {@code ?} marks {@code X | None} (null allowed). {@code float}
   * accepts integers (pydantic's lax mode), {@code int} does not accept floats, neither accepts booleans. Model
   * declares {@code links: list[dict]}; the dicts are what create_used_nodes_and_edges writes, Link's fields. Both the
   * Java check and the Python check below read this table.
   */
  static final String SCHEMA = """
      metadata.slug str
      metadata.scan str
      metadata.transcoder_list list[str]
      metadata.prompt_tokens list[str]
      metadata.prompt str
      metadata.node_threshold float?
      metadata.schema_version int?
      qParams.pinnedIds list[str]
      qParams.supernodes list[list[str]]
      qParams.linkType str
      qParams.clickedId str
      qParams.sg_pos str
      nodes[].node_id str
      nodes[].feature int
      nodes[].layer str
      nodes[].ctx_idx int
      nodes[].feature_type str
      nodes[].token_prob float
      nodes[].is_target_logit bool
      nodes[].run_idx int
      nodes[].reverse_ctx_idx int
      nodes[].jsNodeId str
      nodes[].clerp str
      nodes[].influence float?
      nodes[].activation float?
      links[].source str
      links[].target str
      links[].weight float
      """;

  /** Keys we add that graph_models.py does not declare (its models ignore extra keys). */
  static final String EXTRA_KEYS = "metadata.pruning_settings metadata.graph_scores";

  /**
   * The same check in Python, run when an interpreter exists; needs only the standard library. Rejects NaN and
   * Infinity, which Python's json accepts but the frontend's JSON.parse does not.
   */
  static final String PYTHON_CHECK = """
      import json, sys
      path, table, extras = sys.argv[1], sys.argv[2], set(sys.argv[3].split())
      def bad_constant(c):
          raise ValueError("non-finite number in JSON: " + c)
      with open(path, encoding="utf-8") as f:
          doc = json.load(f, parse_constant=bad_constant)
      fields = {}
      for line in table.strip().splitlines():
          p, t = line.split()
          sec, name = p.split(".")
          fields.setdefault(sec, {})[name] = t
      def ok(v, t):
          if t.endswith("?"):
              if v is None:
                  return True
              t = t[:-1]
          if t == "str": return isinstance(v, str)
          if t == "bool": return isinstance(v, bool)
          if t == "int": return isinstance(v, int) and not isinstance(v, bool)
          if t == "float": return isinstance(v, (int, float)) and not isinstance(v, bool)
          if t.startswith("list[") and t.endswith("]"):
              return isinstance(v, list) and all(ok(x, t[5:-1]) for x in v)
          raise ValueError("unknown type " + t)
      errors = []
      if not isinstance(doc, dict) or set(doc) != {"metadata", "qParams", "nodes", "links"}:
          errors.append("top level keys: %r" % (sorted(doc) if isinstance(doc, dict) else doc,))
      def check(obj, sec, where):
          if not isinstance(obj, dict):
              errors.append(where + " is not an object")
              return
          for name, t in fields[sec].items():
              if name not in obj:
                  errors.append("%s.%s missing" % (where, name))
              elif not ok(obj[name], t):
                  errors.append("%s.%s = %r is not %s" % (where, name, obj[name], t))
          for name in obj:
              if name not in fields[sec] and sec + "." + name not in extras:
                  errors.append("%s.%s is not declared" % (where, name))
      check(doc.get("metadata"), "metadata", "metadata")
      check(doc.get("qParams"), "qParams", "qParams")
      for sec in ("nodes[]", "links[]"):
          items = doc.get(sec[:-2])
          if not isinstance(items, list):
              errors.append(sec[:-2] + " is not a list")
              continue
          for i, x in enumerate(items):
              check(x, sec, "%s[%d]" % (sec[:-2], i))
      if errors:
          print("\\n".join(errors))
          sys.exit(1)
      print("OK %d nodes %d links" % (len(doc["nodes"]), len(doc["links"])))
      """;

  static final Path PYTHON = Path.of("/usr/bin/python3");

  // 2 layers x 3 positions; features F(0,0,5), F(0,1,7), F(1,1,2), F(1,2,9)
  static final int F005 = 0;
  static final int F017 = 1;
  static final int F112 = 2;
  static final int F129 = 3;
  static final int E00 = 4;
  static final int E01 = 5;
  static final int E12 = 9;
  static final int T0 = 10;
  static final int T1 = 11;
  static final int T2 = 12;
  static final int TARGET = 13;
  static final int N = 14;

  static AttributionGraph graph(float f129ToTarget, double f005Activation) {
    List<NodeId> nodes = new ArrayList<>(List.of(NodeId.feature(0, 0, 5), NodeId.feature(0, 1, 7),
        NodeId.feature(1, 1, 2), NodeId.feature(1, 2, 9)));
    for (int l = 0; l < 2; l++) {
      for (int p = 0; p < 3; p++) {
        nodes.add(NodeId.error(l, p));
      }
    }
    for (int p = 0; p < 3; p++) {
      nodes.add(NodeId.token(p));
    }
    nodes.add(NodeId.target());
    float[][] rows = new float[N][];
    for (int r : new int[] {F005, F017, F112, F129, TARGET}) {
      rows[r] = new float[N];
    }
    rows[F005][T0] = 0.5f;
    rows[F017][T1] = 0.1f;
    rows[F112][F005] = 0.25f;
    rows[F112][T1] = -0.125f;
    rows[F112][E01] = 0.0625f;
    rows[F129][F112] = 0.75f;
    rows[TARGET][F129] = f129ToTarget;
    rows[TARGET][E12] = -0.375f;
    rows[TARGET][F017] = 0.3f;
    rows[TARGET][T2] = 0.2f;
    double[] act = new double[N];
    act[F005] = f005Activation;
    act[F017] = 1.0;
    act[F112] = 3.5;
    act[F129] = 0.75;
    double[] totals = new double[N];
    Arrays.fill(totals, Double.NaN);
    totals[TARGET] = 2.0;
    return new AttributionGraph(nodes, act, rows, new double[N], totals, 2, 3, "logit ' endothelial'");
  }

  static PruneResult prune() {
    boolean[] kept = new boolean[N];
    for (int i : new int[] {F005, F112, F129, E00, E12, T0, T1, T2, TARGET}) {
      kept[i] = true;
    }
    boolean[][] edges = new boolean[N][];
    for (int r : new int[] {F005, F017, F112, F129, TARGET}) {
      edges[r] = new boolean[N];
    }
    edges[F005][T0] = true;
    edges[F017][T1] = true; // row of a dropped node
    edges[F112][F005] = true;
    edges[F112][T1] = true;
    edges[F129][F112] = true;
    edges[TARGET][F129] = true;
    edges[TARGET][E12] = true;
    edges[TARGET][F017] = true; // from a dropped node
    double[] influence = new double[N];
    double[] cumulative = new double[N];
    for (int i = 0; i < N; i++) {
      influence[i] = 1.0 / (i + 1);
      cumulative[i] = (i + 1) / 16.0;
    }
    return new PruneResult(kept, edges, influence, cumulative);
  }

  static GraphExport export() {
    return new GraphExport("cell-42", "c2s-transcoders", "<cell> VWF KDR", List.of("<cell>", " VWF", " KDR"),
        List.of(101, 202, 303), Arrays.asList(null, "VWF", "KDR"), "endothelial", 404, null, 0.8, 0.98,
        new GraphScores(0.9, 0.85, 0.125));
  }

  static JsonObject exported() {
    return CircuitTracerJson.toJson(graph(1.5f, 2.0), prune(), export());
  }

  static List<String> ids(JsonArray nodes) {
    List<String> ids = new ArrayList<>();
    nodes.forEach(n -> ids.add(n.getAsJsonObject().get("node_id").getAsString()));
    return ids;
  }

  static Map<String, JsonObject> byId(JsonArray nodes) {
    Map<String, JsonObject> m = new LinkedHashMap<>();
    nodes.forEach(n -> m.put(n.getAsJsonObject().get("node_id").getAsString(), n.getAsJsonObject()));
    return m;
  }

  @Test
  void keepsLinkedNodesTokensAndTargetInGraphOrder() {
    JsonArray nodes = exported().getAsJsonArray("nodes");
    // F(0,1,7) is not kept; E(0,0) is kept but no kept edge touches it, so it is left out as circuit-tracer does
    assertThat(ids(nodes)).containsExactly("0_5_0", "1_2_1", "1_9_2", "1_-1_2", "E_101_0", "E_202_1", "E_303_2",
        "3_404_2");
  }

  @Test
  void nodeFieldsAreFilledAsCircuitTracerFillsThem() {
    Map<String, JsonObject> n = byId(exported().getAsJsonArray("nodes"));

    JsonObject f = n.get("1_2_1");
    assertThat(f.get("feature").getAsLong()).isEqualTo(8); // cantor(1, 2) = 3*4/2 + 2
    assertThat(f.get("layer").getAsString()).isEqualTo("1");
    assertThat(f.get("ctx_idx").getAsInt()).isEqualTo(1);
    assertThat(f.get("feature_type").getAsString()).isEqualTo("cross layer transcoder");
    assertThat(f.get("jsNodeId").getAsString()).isEqualTo("1_2-0");
    assertThat(f.get("activation").getAsDouble()).isEqualTo(3.5);
    assertThat(f.get("influence").getAsDouble()).isEqualTo((F112 + 1) / 16.0);
    assertThat(f.get("token_prob").getAsDouble()).isZero();
    assertThat(f.get("is_target_logit").getAsBoolean()).isFalse();
    assertThat(f.get("clerp").getAsString()).isEmpty();
    assertThat(n.get("0_5_0").get("feature").getAsLong()).isEqualTo(20); // cantor(0, 5) = 5*6/2 + 5

    JsonObject err = n.get("1_-1_2");
    assertThat(err.get("feature").getAsLong()).isEqualTo(-1);
    assertThat(err.get("layer").getAsString()).isEqualTo("1");
    assertThat(err.get("ctx_idx").getAsInt()).isEqualTo(2);
    assertThat(err.get("feature_type").getAsString()).isEqualTo("mlp reconstruction error");
    assertThat(err.get("jsNodeId").getAsString()).isEqualTo("1_2-0");
    assertThat(err.get("influence").getAsDouble()).isEqualTo((E12 + 1) / 16.0);
    assertThat(err.get("activation").isJsonNull()).isTrue();

    JsonObject tok = n.get("E_202_1");
    assertThat(tok.get("feature").getAsLong()).isEqualTo(1);
    assertThat(tok.get("layer").getAsString()).isEqualTo("E");
    assertThat(tok.get("feature_type").getAsString()).isEqualTo("embedding");
    assertThat(tok.get("jsNodeId").getAsString()).isEqualTo("E_202-1");
    assertThat(tok.get("clerp").getAsString()).isEqualTo("VWF (rank 1)");
    assertThat(n.get("E_303_2").get("clerp").getAsString()).isEqualTo("KDR (rank 2)");
    assertThat(n.get("E_101_0").get("clerp").getAsString()).isEmpty();
    assertThat(tok.get("activation").isJsonNull()).isTrue();

    JsonObject logit = n.get("3_404_2");
    assertThat(logit.get("feature").getAsLong()).isEqualTo(404);
    assertThat(logit.get("layer").getAsString()).isEqualTo("3"); // n_layers + 1
    assertThat(logit.get("ctx_idx").getAsInt()).isEqualTo(2);
    assertThat(logit.get("feature_type").getAsString()).isEqualTo("logit");
    assertThat(logit.get("is_target_logit").getAsBoolean()).isTrue();
    assertThat(logit.get("token_prob").getAsDouble()).isEqualTo(1.0);
    assertThat(logit.get("jsNodeId").getAsString()).isEqualTo("L_404-2");
    assertThat(logit.get("clerp").getAsString()).isEqualTo("Output \"endothelial\" (p=1.000)");
    assertThat(logit.get("influence").isJsonNull()).isTrue();
    assertThat(logit.get("activation").isJsonNull()).isTrue();
  }

  @Test
  void linksRunFromInputToFedNodeForKeptEdgesOnly() {
    JsonArray links = exported().getAsJsonArray("links");
    List<String> got = new ArrayList<>();
    links.forEach(l -> {
      JsonObject o = l.getAsJsonObject();
      got.add(o.get("source").getAsString() + " -> " + o.get("target").getAsString() + " "
          + o.get("weight").getAsDouble());
    });
    // by target, then source (circuit-tracer's nonzero() order on the [target, source] mask)
    assertThat(got).containsExactly(
        "E_101_0 -> 0_5_0 0.5",
        "0_5_0 -> 1_2_1 0.25",
        "E_202_1 -> 1_2_1 -0.125",
        "1_2_1 -> 1_9_2 0.75",
        "1_9_2 -> 3_404_2 1.5",
        "1_-1_2 -> 3_404_2 -0.375");
  }

  @Test
  void metadataAndQParams() {
    JsonObject root = exported();
    JsonObject m = root.getAsJsonObject("metadata");
    assertThat(m.get("slug").getAsString()).isEqualTo("cell-42");
    assertThat(m.get("scan").getAsString()).isEqualTo("c2s-transcoders");
    assertThat(m.getAsJsonArray("transcoder_list")).isEmpty();
    assertThat(m.getAsJsonArray("prompt_tokens").asList()).extracting(JsonElement::getAsString)
        .containsExactly("<cell>", " VWF", " KDR");
    assertThat(m.get("prompt").getAsString()).isEqualTo("<cell> VWF KDR");
    assertThat(m.get("node_threshold").getAsDouble()).isEqualTo(0.8);
    assertThat(m.get("schema_version").getAsInt()).isEqualTo(1);
    assertThat(m.getAsJsonObject("pruning_settings").get("edge_threshold").getAsDouble()).isEqualTo(0.98);
    JsonObject s = m.getAsJsonObject("graph_scores");
    assertThat(s.get("replacement_score").getAsDouble()).isEqualTo(0.9);
    assertThat(s.get("completeness_score").getAsDouble()).isEqualTo(0.85);
    assertThat(s.get("error_share").getAsDouble()).isEqualTo(0.125);

    JsonObject q = root.getAsJsonObject("qParams");
    assertThat(q.getAsJsonArray("pinnedIds")).isEmpty();
    assertThat(q.getAsJsonArray("supernodes")).isEmpty();
    assertThat(q.get("linkType").getAsString()).isEqualTo("both");
    assertThat(q.get("clickedId").getAsString()).isEmpty();
    assertThat(q.get("sg_pos").getAsString()).isEmpty();
    assertThat(root.keySet()).containsExactly("metadata", "qParams", "nodes", "links");
  }

  @Test
  void writtenFileMatchesGraphModelsInJava() throws IOException {
    StringWriter w = new StringWriter();
    CircuitTracerJson.write(w, graph(1.5f, 2.0), prune(), export());
    assertThat(schemaErrors(w.toString())).isEmpty();
  }

  @Test
  void writtenFileMatchesGraphModelsInPython(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(PYTHON), "no " + PYTHON + "; the Java check still runs");
    Path file = dir.resolve("cell-42.json");
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      CircuitTracerJson.write(w, graph(1.5f, 2.0), prune(), export());
    }
    assertThat(runPython(file)).startsWith("OK 8 nodes 6 links");
  }

  @Test
  void bothChecksRejectWhatGraphModelsRejects(@TempDir Path dir) throws Exception {
    JsonObject root = exported();
    JsonObject node = root.getAsJsonArray("nodes").get(0).getAsJsonObject();
    node.addProperty("ctx_idx", 1.5);
    node.remove("clerp");
    root.getAsJsonArray("links").get(0).getAsJsonObject().addProperty("weight", "0.5");
    String text = root.toString().replace("\"activation\":2.0", "\"activation\":NaN");
    assertThat(text).contains("NaN");

    assertThat(schemaErrors(text.replace("NaN", "2.0")))
        .anySatisfy(e -> assertThat(e).contains("nodes[0].ctx_idx"))
        .anySatisfy(e -> assertThat(e).contains("nodes[0].clerp missing"))
        .anySatisfy(e -> assertThat(e).contains("links[0].weight"));
    assertThat(schemaErrors(text)).singleElement().asString().contains("non-finite");

    if (Files.isExecutable(PYTHON)) {
      Path file = dir.resolve("bad.json");
      Files.writeString(file, text.replace("NaN", "2.0"));
      String out = runPython(file);
      assertThat(out).contains("nodes[0].ctx_idx").contains("nodes[0].clerp missing").contains("links[0].weight");
      Files.writeString(file, text);
      assertThat(runPython(file)).contains("non-finite number in JSON: NaN");
    }
  }

  @Test
  void nonFiniteOptionalNumbersBecomeNullAsPydanticWritesThem() throws IOException {
    PruneResult p = prune();
    p.cumulativeInfluence()[F112] = Double.NaN;
    StringWriter w = new StringWriter();
    CircuitTracerJson.write(w, graph(1.5f, Double.POSITIVE_INFINITY), p, export());
    assertThat(w.toString()).doesNotContain("NaN").doesNotContain("Infinity");
    Map<String, JsonObject> n = byId(JsonParser.parseString(w.toString()).getAsJsonObject().getAsJsonArray("nodes"));
    assertThat(n.get("0_5_0").get("activation").isJsonNull()).isTrue();
    assertThat(n.get("1_2_1").get("influence").isJsonNull()).isTrue();
    assertThat(schemaErrors(w.toString())).isEmpty();
  }

  @Test
  void nonFiniteLinkWeightFailsNamingTheEdge() {
    assertThatThrownBy(() -> CircuitTracerJson.toJson(graph(Float.NaN, 2.0), prune(), export()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("F:1:2:9 -> TARGET")
        .hasMessageContaining("NaN");
  }

  @Test
  void unknownVocabularyIdsAndDefaultsFromTheShortFactory() {
    GraphExport e = GraphExport.of("s", "scan", "p", List.of("a", "b", "c"), null, null, 0.5, 0.9, null);
    JsonObject root = CircuitTracerJson.toJson(graph(1.5f, 2.0), prune(), e);
    assertThat(ids(root.getAsJsonArray("nodes"))).contains("E_-1_0", "E_-1_2", "3_-1_2");
    JsonObject logit = byId(root.getAsJsonArray("nodes")).get("3_-1_2");
    assertThat(logit.get("clerp").getAsString()).isEqualTo("Output \"logit ' endothelial'\" (p=1.000)");
    assertThat(root.getAsJsonObject("metadata").has("graph_scores")).isFalse();
  }

  @Test
  void geneLabelsCountASplitSymbolOnce() {
    GraphExport e = GraphExport.of("s", "scan", "p", List.of("<c>", " V", "WF", " K", "DR", " ACTB"),
        Arrays.asList(null, "VWF", "VWF", "KDR", "KDR", "ACTB"), "t", 0.8, 0.98, null);
    assertThat(e.geneLabels()).containsExactly(null, "VWF (rank 1)", "VWF (rank 1)", "KDR (rank 2)", "KDR (rank 2)",
        "ACTB (rank 3)");
  }

  @Test
  void rejectsExportsThatDoNotFitTheGraph() {
    GraphExport twoTokens = GraphExport.of("s", "scan", "p", List.of("a", "b"), null, "t", 0.8, 0.98, null);
    assertThatThrownBy(() -> CircuitTracerJson.toJson(graph(1.5f, 2.0), prune(), twoTokens))
        .hasMessageContaining("2 prompt tokens").hasMessageContaining("3 positions");
    assertThatThrownBy(() -> GraphExport.of("s", "scan", "p", List.of("a"), List.of("X", "Y"), "t", 0.8, 0.98, null))
        .hasMessageContaining("2 entries for 1 tokens");
    assertThatThrownBy(() -> GraphExport.of("s", "scan", "p", List.of("a"), null, "t", 1.5, 0.98, null))
        .hasMessageContaining("node threshold");

    PruneResult p = prune();
    p.keptNodes()[TARGET] = false;
    assertThatThrownBy(() -> CircuitTracerJson.toJson(graph(1.5f, 2.0), p, export()))
        .hasMessageContaining("drops the target");
    PruneResult q = prune();
    q.keptEdges()[T0] = new boolean[N];
    q.keptEdges()[T0][T1] = true;
    assertThatThrownBy(() -> CircuitTracerJson.toJson(graph(1.5f, 2.0), q, export()))
        .hasMessageContaining("T:1 -> T:0");
  }

  @Test
  void cantorPairingAsCircuitTracer() {
    assertThat(CircuitTracerJson.cantor(0, 0)).isZero();
    assertThat(CircuitTracerJson.cantor(3, 4)).isEqualTo(32); // 7*8/2 + 4
    assertThat(CircuitTracerJson.cantor(25, 65535)).isEqualTo(2_149_155_115L); // past int
  }

  // ---- the Java twin of PYTHON_CHECK ----

  static Map<String, Map<String, String>> schema() {
    Map<String, Map<String, String>> fields = new LinkedHashMap<>();
    SCHEMA.strip().lines().forEach(line -> {
      String[] pt = line.trim().split("\\s+");
      int dot = pt[0].indexOf('.');
      fields.computeIfAbsent(pt[0].substring(0, dot), k -> new LinkedHashMap<>()).put(pt[0].substring(dot + 1), pt[1]);
    });
    return fields;
  }

  /** What is wrong with {@code text} against {@link #SCHEMA}; empty when it matches. */
  static List<String> schemaErrors(String text) {
    List<String> errors = new ArrayList<>();
    JsonElement doc;
    try (JsonReader reader = new JsonReader(new StringReader(text))) {
      // a strict reader, as JSON.parse: JsonParser would be lenient and read a bare NaN as the string "NaN"
      doc = new Gson().getAdapter(JsonElement.class).read(reader);
      if (reader.peek() != JsonToken.END_DOCUMENT) {
        errors.add("not valid JSON: data after the document");
        return errors;
      }
    } catch (IOException | RuntimeException e) {
      errors.add("not valid JSON (a non-finite number?): " + e.getMessage());
      return errors;
    }
    collectNonFinite(doc, "$", errors);
    if (!doc.isJsonObject()
        || !doc.getAsJsonObject().keySet().equals(Set.of("metadata", "qParams", "nodes", "links"))) {
      errors.add("top level keys: " + (doc.isJsonObject() ? doc.getAsJsonObject().keySet() : doc));
      return errors;
    }
    Map<String, Map<String, String>> fields = schema();
    Set<String> extras = Set.of(EXTRA_KEYS.split(" "));
    JsonObject root = doc.getAsJsonObject();
    checkObject(root.get("metadata"), "metadata", "metadata", fields, extras, errors);
    checkObject(root.get("qParams"), "qParams", "qParams", fields, extras, errors);
    for (String sec : List.of("nodes", "links")) {
      JsonElement items = root.get(sec);
      if (!items.isJsonArray()) {
        errors.add(sec + " is not a list");
        continue;
      }
      for (int i = 0; i < items.getAsJsonArray().size(); i++) {
        checkObject(items.getAsJsonArray().get(i), sec + "[]", sec + "[" + i + "]", fields, extras, errors);
      }
    }
    return errors;
  }

  private static void checkObject(JsonElement e, String sec, String where, Map<String, Map<String, String>> fields,
      Set<String> extras, List<String> errors) {
    if (e == null || !e.isJsonObject()) {
      errors.add(where + " is not an object");
      return;
    }
    JsonObject o = e.getAsJsonObject();
    fields.get(sec).forEach((name, type) -> {
      if (!o.has(name)) {
        errors.add(where + "." + name + " missing");
      } else if (!hasType(o.get(name), type)) {
        errors.add(where + "." + name + " = " + o.get(name) + " is not " + type);
      }
    });
    for (String name : o.keySet()) {
      if (!fields.get(sec).containsKey(name) && !extras.contains(sec + "." + name)) {
        errors.add(where + "." + name + " is not declared");
      }
    }
  }

  private static boolean hasType(JsonElement v, String type) {
    if (type.endsWith("?")) {
      if (v.isJsonNull()) {
        return true;
      }
      type = type.substring(0, type.length() - 1);
    }
    if (type.startsWith("list[") && type.endsWith("]")) {
      String inner = type.substring(5, type.length() - 1);
      return v.isJsonArray() && v.getAsJsonArray().asList().stream().allMatch(x -> hasType(x, inner));
    }
    if (!v.isJsonPrimitive()) {
      return false;
    }
    JsonPrimitive p = v.getAsJsonPrimitive();
    return switch (type) {
      case "str" -> p.isString();
      case "bool" -> p.isBoolean();
      case "int" -> p.isNumber() && p.getAsNumber().toString().matches("-?\\d+");
      case "float" -> p.isNumber();
      default -> throw new IllegalArgumentException("unknown type " + type);
    };
  }

  private static void collectNonFinite(JsonElement e, String where, List<String> errors) {
    if (e.isJsonObject()) {
      e.getAsJsonObject().entrySet().forEach(en -> collectNonFinite(en.getValue(), where + "." + en.getKey(), errors));
    } else if (e.isJsonArray()) {
      JsonArray a = e.getAsJsonArray();
      for (int i = 0; i < a.size(); i++) {
        collectNonFinite(a.get(i), where + "[" + i + "]", errors);
      }
    } else if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()
        && !Double.isFinite(e.getAsJsonPrimitive().getAsDouble())) {
      errors.add(where + " is a non-finite number: " + e.getAsJsonPrimitive().getAsNumber());
    }
  }

  static String runPython(Path file) throws Exception {
    Process proc = new ProcessBuilder(PYTHON.toString(), "-c", PYTHON_CHECK, file.toString(), SCHEMA, EXTRA_KEYS)
        .redirectErrorStream(true).start();
    String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(proc.waitFor(60, TimeUnit.SECONDS)).as("python finished").isTrue();
    return out;
  }
}
