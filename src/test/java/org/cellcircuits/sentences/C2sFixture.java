package org.cellcircuits.sentences;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Loads the fixtures that make_rng_fixtures.py wrote with numpy, sklearn and cell2sentence itself. */
final class C2sFixture {
  private C2sFixture() {
  }

  static JsonObject json(String name) {
    try (InputStream in = C2sFixture.class.getResourceAsStream("/c2s/" + name)) {
      if (in == null) {
        throw new IllegalStateException("missing test resource /c2s/" + name);
      }
      return new Gson().fromJson(new InputStreamReader(in, StandardCharsets.UTF_8), JsonObject.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static int[] ints(JsonObject o, String key) {
    return new Gson().fromJson(o.get(key), int[].class);
  }

  static long[] longs(JsonObject o, String key) {
    return new Gson().fromJson(o.get(key), long[].class);
  }

  static double[] doubles(JsonObject o, String key) {
    return new Gson().fromJson(o.get(key), double[].class);
  }

  static String[] strings(JsonObject o, String key) {
    return new Gson().fromJson(o.get(key), String[].class);
  }

  /** The fixture's CSR atlas (240 cells x 50 genes, many ties, explicit zeros, unsorted rows). */
  static InMemoryAtlas atlas() {
    JsonObject j = json("c2s_sentences.json");
    Map<String, String[]> obs = new LinkedHashMap<>();
    JsonObject o = j.getAsJsonObject("obs");
    for (String k : o.keySet()) {
      obs.put(k, strings(o, k));
    }
    return new InMemoryAtlas("c2s_sentences.json", strings(j, "cell_ids"), List.of(strings(j, "gene_symbols")),
        obs, longs(j, "indptr"), ints(j, "indices"), doubles(j, "values"));
  }
}
