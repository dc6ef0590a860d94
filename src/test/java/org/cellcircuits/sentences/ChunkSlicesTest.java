package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.cellcircuits.sentences.AtlasFixtures.path;

import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import org.junit.jupiter.api.Test;

/**
 * Direct chunk reads of every range [start, start + n) of a CSR whose data and indices have chunks of 7 and 5
 * elements (chunked/make_chunked.py: ranges start and end inside chunks, span many, and reach the partial last
 * chunk), against the values the generator wrote and jhdf's own slice read. Other layouts are left to jhdf.
 */
class ChunkSlicesTest {

  @Test
  void everyRangeEqualsTheWrittenValuesAndJhdfsSliceRead() throws Exception {
    int ranges = 0;
    try (HdfFile hdf = H5adReader.unmapped(path("chunked/chunked_csr.h5ad"), "chunked_csr.h5ad")) {
      Dataset data = (Dataset) hdf.getByPath("X/data");
      Dataset indices = (Dataset) hdf.getByPath("X/indices");
      ChunkSlices values = ChunkSlices.of(data);
      ChunkSlices columns = ChunkSlices.of(indices);
      assertThat(values).as("X/data").isNotNull();
      assertThat(columns).as("X/indices").isNotNull();
      assertThat(values.holdsInts()).isFalse();
      assertThat(columns.holdsInts()).isTrue();
      int length = (int) data.getDimensionsAsLong()[0];
      assertThat(length).isEqualTo(103);
      for (int start = 0; start <= length; start++) {
        for (int n = 0; start + n <= length; n++) {
          double[] v = values.doubles(start, n);
          int[] c = columns.ints(start, n);
          for (int j = 0; j < n; j++) { // the generator's formulas
            int i = start + j;
            if (v[j] != (i % 97) * 0.25 + 0.5 || c[j] != (i * 7919) % 1000) {
              assertThat(new double[] {v[j], c[j]}).as("element %d of [%d, +%d)", i, start, n)
                  .containsExactly((i % 97) * 0.25 + 0.5, (i * 7919) % 1000);
            }
          }
          if (n < 20) { // jhdf's own read, as a second opinion on the short ranges
            assertThat(v).containsExactly(H5adArrays.doubles(H5adArrays.slice(data, start, n)));
            assertThat(c).containsExactly(H5adArrays.ints(H5adArrays.slice(indices, start, n)));
          }
          ranges++;
        }
      }
      assertThatThrownBy(() -> values.doubles(length - 1, 2)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("X/data");
      assertThat(ChunkSlices.of((Dataset) hdf.getByPath("X_f64"))).as("float64: left to jhdf").isNull();
      // ~30,000 chunk reads: opened by H5adReader.unmapped none of them maps the file (jhdf's default maps each, and
      // the mappings outlive the reads until a GC: tens of thousands crashed a test JVM at vm.max_map_count)
      assertThat(mappingsOf(path("chunked/chunked_csr.h5ad"))).as("mappings of the atlas").isZero();
    }
    assertThat(ranges).isEqualTo(104 * 105 / 2);
  }

  /** Memory mappings of {@code file} in this process ({@code /proc/self/maps}); 0 where there is no /proc. */
  static long mappingsOf(java.nio.file.Path file) {
    java.nio.file.Path maps = java.nio.file.Path.of("/proc/self/maps");
    if (!java.nio.file.Files.isReadable(maps)) {
      return 0;
    }
    String name = file.toAbsolutePath().normalize().toString();
    try (var lines = java.nio.file.Files.lines(maps)) {
      return lines.filter(l -> l.endsWith(" " + name)).count();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void theReaderTestsCsrFixtureTakesTheDirectPath() throws Exception {
    // csr_f32 is chunked and unfiltered (one chunk): H5adReaderTest checks its rows against anndata; here the
    // direct path is confirmed to be the one taken for it.
    try (HdfFile hdf = new HdfFile(path("csr_f32.h5ad"))) {
      assertThat(ChunkSlices.of((Dataset) hdf.getByPath("X/data"))).isNotNull();
      assertThat(ChunkSlices.of((Dataset) hdf.getByPath("X/indices"))).isNotNull();
    }
  }

  @Test
  void otherLayoutsAreLeftToJhdf() {
    try (HdfFile ties = new HdfFile(path("ties.h5ad"));
         HdfFile legacy = new HdfFile(path("legacy_obs.h5ad"));
         HdfFile ints = new HdfFile(path("int_counts.h5ad"))) {
      assertThat(ChunkSlices.of((Dataset) ties.getByPath("X/data"))).as("gzip-compressed chunks").isNull();
      assertThat(ChunkSlices.of((Dataset) legacy.getByPath("X/data"))).as("contiguous").isNull();
      assertThat(ChunkSlices.of((Dataset) ints.getByPath("X/indices"))).as("contiguous int64").isNull();
      ChunkSlices intData = ChunkSlices.of((Dataset) ints.getByPath("X/data"));
      assertThat(intData == null || intData.holdsInts()).as("int32 counts are not float data").isTrue();
    }
  }
}
