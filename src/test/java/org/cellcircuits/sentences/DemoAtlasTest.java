package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;

import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shipped demo atlas (demo/heart_demo.h5ad, made by demo/make_demo_atlas.py) read with jhdf directly: it has the
 * promised size and annotation, its genes are the real symbols of demo/genes.tsv, and each cell type's planted
 * markers (demo/markers.tsv) are highest in that type. Also proves that jhdf reads anndata's gzip-compressed datasets.
 */
class DemoAtlasTest {

  private static final Path DEMO = Paths.get("demo");

  private static String[] genes;
  private static String[] cellTypeCategories;
  private static byte[] cellTypeCodes;
  private static int[] indptr;
  private static int[] indices;
  private static float[] data;
  private static long[] shape;
  private static String xEncoding;
  private static Map<String, List<String>> markers;
  private static Set<String> vocabulary;

  @BeforeAll
  static void read() throws IOException {
    try (HdfFile f = new HdfFile(DEMO.resolve("heart_demo.h5ad"))) {
      xEncoding = (String) f.getByPath("X").getAttribute("encoding-type").getData();
      shape = (long[]) f.getByPath("X").getAttribute("shape").getData();
      data = (float[]) ((Dataset) f.getByPath("X/data")).getData();
      indices = (int[]) ((Dataset) f.getByPath("X/indices")).getData();
      indptr = (int[]) ((Dataset) f.getByPath("X/indptr")).getData();
      genes = (String[]) ((Dataset) f.getByPath("var/_index")).getData();
      String[] featureName = (String[]) ((Dataset) f.getByPath("var/feature_name")).getData();
      assertThat(featureName).containsExactly(genes);
      cellTypeCategories = (String[]) ((Dataset) f.getByPath("obs/cell_type/categories")).getData();
      cellTypeCodes = (byte[]) ((Dataset) f.getByPath("obs/cell_type/codes")).getData();
      assertThat(((Dataset) f.getByPath("X/data")).getFilters()).as("X/data is gzip-compressed")
          .anyMatch(filter -> filter.getName().equals("deflate"));
      for (String col : List.of("donor_id", "tissue")) {
        assertThat(f.getByPath("obs/" + col + "/categories")).isNotNull();
        assertThat(((Dataset) f.getByPath("obs/" + col + "/codes")).getDimensions()).containsExactly((int) shape[0]);
      }
    }
    markers = new LinkedHashMap<>();
    List<String> markerLines = Files.readAllLines(DEMO.resolve("markers.tsv"), StandardCharsets.UTF_8);
    assertThat(markerLines.get(0)).isEqualTo("cell_type\tgene\tweight\tsource");
    for (String line : markerLines.subList(1, markerLines.size())) {
      String[] cols = line.split("\t", -1);
      assertThat(cols).as("markers.tsv row '%s'", line).hasSize(4);
      double weight = Double.parseDouble(cols[2]);
      assertThat(weight).as("weight of %s in %s", cols[1], cols[0]).isGreaterThan(0).isLessThanOrEqualTo(1);
      assertThat(cols[3]).as("source of %s in %s", cols[1], cols[0]).isNotBlank();
      markers.computeIfAbsent(cols[0], k -> new ArrayList<>()).add(cols[1]);
    }
    vocabulary = new HashSet<>();
    List<String> geneLines = Files.readAllLines(DEMO.resolve("genes.tsv"), StandardCharsets.UTF_8);
    assertThat(geneLines.get(0)).isEqualTo("gene\tentrez_id\tgene_type\trole\tsource");
    for (String line : geneLines.subList(1, geneLines.size())) {
      String[] cols = line.split("\t", -1);
      assertThat(cols).as("genes.tsv row '%s'", line).hasSize(5);
      assertThat(cols[1]).as("Entrez id of %s", cols[0]).matches("\\d+");
      assertThat(cols[4]).as("source of %s", cols[0]).isNotBlank();
      vocabulary.add(cols[0]);
    }
  }

  @Test
  void hasTheSizeAndAnnotationPromised() {
    assertThat(xEncoding).isEqualTo("csr_matrix");
    int cells = (int) shape[0];
    assertThat(cells).isGreaterThanOrEqualTo(5000);
    assertThat(indptr).hasSize(cells + 1);
    assertThat(indptr[cells]).isEqualTo(data.length);
    assertThat(shape[1]).isEqualTo(genes.length);
    assertThat(cellTypeCodes).hasSize(cells);
    assertThat(cellTypeCategories).hasSize(12);
    assertThat(markers.keySet()).containsExactlyInAnyOrder(cellTypeCategories);
    int[] perType = new int[cellTypeCategories.length];
    for (byte code : cellTypeCodes) {
      perType[code]++;
    }
    // The floor: the rarest type still has cells enough to learn and to test.
    assertThat(Arrays.stream(perType).min().orElse(0)).isGreaterThanOrEqualTo(60);
    long notCounts = 0;
    for (float v : data) {
      if (!(v > 0) || v != (float) Math.rint(v)) {
        notCounts++;
      }
    }
    assertThat(notCounts).as("stored values that are not positive integer counts").isZero();
  }

  @Test
  void genesAreRealSymbolsFromTheVocabulary() {
    assertThat(genes.length).isGreaterThanOrEqualTo(2000);
    assertThat(new HashSet<>(Arrays.asList(genes))).hasSize(genes.length);
    assertThat(vocabulary).contains(genes);
    Set<String> var = new HashSet<>(Arrays.asList(genes));
    for (Map.Entry<String, List<String>> e : markers.entrySet()) {
      assertThat(e.getValue()).as("markers of %s", e.getKey()).hasSizeBetween(8, 15);
      assertThat(var).as("markers of %s in var", e.getKey()).containsAll(e.getValue());
    }
  }

  @Test
  void eachTypesMarkersAreHighestInThatType() {
    Map<String, Integer> column = new HashMap<>();
    for (int j = 0; j < genes.length; j++) {
      column.put(genes[j], j);
    }
    int types = cellTypeCategories.length;
    // sum[t][j]: total count of gene j over cells of type t.
    double[][] sum = new double[types][genes.length];
    int[] cells = new int[types];
    for (int r = 0; r < cellTypeCodes.length; r++) {
      int t = cellTypeCodes[r];
      cells[t]++;
      for (int k = indptr[r]; k < indptr[r + 1]; k++) {
        sum[t][indices[k]] += data[k];
      }
    }
    for (int owner = 0; owner < types; owner++) {
      List<String> ms = markers.get(cellTypeCategories[owner]);
      double[] meanOfMarkers = new double[types];
      for (int t = 0; t < types; t++) {
        double total = 0;
        for (String m : ms) {
          total += sum[t][column.get(m)];
        }
        meanOfMarkers[t] = total / ms.size() / cells[t];
      }
      for (int t = 0; t < types; t++) {
        if (t != owner) {
          assertThat(meanOfMarkers[owner])
              .as("mean count of %s markers in %s vs in %s", cellTypeCategories[owner], cellTypeCategories[owner],
                  cellTypeCategories[t])
              .isGreaterThan(meanOfMarkers[t]);
        }
      }
    }
  }
}
