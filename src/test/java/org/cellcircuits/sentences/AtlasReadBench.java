package org.cellcircuits.sentences;

import java.io.IOException;

/**
 * Times reading every row of an atlas in row ranges, as the sentences stage's tasks do (one reader per range, as
 * each Spark task opens its own). Not a test: run by hand on a generated atlas, e.g.
 *
 * <pre>
 * /usr/bin/python3 src/test/resources/atlas/make_fixtures.py --bench /tmp/readers-bench.h5ad
 * mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -Xmx4g -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *     org.cellcircuits.sentences.AtlasReadBench /tmp/readers-bench.h5ad 5000
 * </pre>
 * Prints cells/s for the local path and for the remote path (a local file under a Hadoop scheme) in both
 * {@link AtlasOptions.RemoteAccess} modes.
 */
public final class AtlasReadBench {
  private AtlasReadBench() {
  }

  public static void main(String[] args) throws IOException {
    String file = args[0];
    int range = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
    AtlasOptions options = AtlasOptions.defaults().withObsColumns("cell_type", null, null);
    for (int rep = 1; rep <= 3; rep++) { // the first pass includes JIT warm-up and a cold page cache
      run("local, pass " + rep, new H5adSource(file, options), range);
    }
    AtlasOptions remote = options.withHadoopConf(RemoteLikeFileSystem.conf());
    String uri = RemoteLikeFileSystem.uri(java.nio.file.Path.of(file));
    run("remote-stage (first: includes the copy)", new H5adSource(uri, remote), range);
    run("remote-stage (copy reused)", new H5adSource(uri, remote), range);
    for (int rep = 1; rep <= 2; rep++) {
      run("remote-range, pass " + rep, new H5adSource(uri, remote.withRemoteAccess(AtlasOptions.RemoteAccess.RANGE)),
          range);
    }
  }

  private static void run(String label, AtlasSource source, int range) throws IOException {
    long t0 = System.nanoTime();
    long cells;
    long entries = 0;
    double checksum = 0;
    try (AtlasReader meta = source.open()) {
      cells = meta.meta().nCells();
    }
    for (long s = 0; s < cells; s += range) {
      try (AtlasReader reader = source.open()) {
        CellBlock b = reader.read(s, Math.min(cells, s + range));
        entries += b.indices().length;
        checksum += b.values()[0] + b.obs().get("cell_type")[0].length();
      }
    }
    double sec = (System.nanoTime() - t0) / 1e9;
    System.out.printf("%-42s %d cells, %d entries in %.2f s: %.0f cells/s, %.1f M entries/s "
        + "(checksum %.0f)%n", label, cells, entries, sec, cells / sec, entries / sec / 1e6, checksum);
  }
}
