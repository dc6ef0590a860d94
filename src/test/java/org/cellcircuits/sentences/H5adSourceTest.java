package org.cellcircuits.sentences;

import org.cellcircuits.runtime.HadoopFiles;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.cellcircuits.sentences.AtlasFixtures.Csr;
import static org.cellcircuits.sentences.AtlasFixtures.path;

/**
 * A non-local .h5ad (here a local file under a made-up Hadoop scheme, so the code takes the s3a:// path) reads the
 * same as the local file, staged or by range reads; the staged copy is made once per JVM and reused; sources
 * survive Java serialization as Spark ships them.
 */
class H5adSourceTest {

  private static Csr read(AtlasSource source) throws IOException {
    try (AtlasReader reader = source.open()) {
      long n = reader.meta().nCells();
      return AtlasFixtures.readInRanges(reader, 0, n / 3, n / 2, n / 2 + 1, n);
    }
  }

  @Test
  void remoteReadsEqualLocalReads() throws Exception {
    AtlasOptions local = H5adReaderTest.optionsFor("ties");
    Csr want = read(new H5adSource(path("ties.h5ad").toString(), local));
    String remote = RemoteLikeFileSystem.uri(path("ties.h5ad"));
    for (AtlasOptions.RemoteAccess access : AtlasOptions.RemoteAccess.values()) {
      AtlasOptions options = local.withHadoopConf(RemoteLikeFileSystem.conf()).withRemoteAccess(access);
      AtlasSource source = AtlasReaders.source(remote, options);
      assertThat(source).isEqualTo(new H5adSource(remote, options));
      Csr got = read(roundTrip(source));
      assertThat(got.cellIds()).as(access.name()).isEqualTo(want.cellIds());
      assertThat(got.indptr()).as(access.name()).isEqualTo(want.indptr());
      assertThat(got.indices()).as(access.name()).isEqualTo(want.indices());
      assertThat(got.values()).as(access.name()).isEqualTo(want.values());
      assertThat(got.obs()).as(access.name()).isEqualTo(want.obs());
    }
  }

  @Test
  void theStagedCopyIsMadeOncePerJvm() throws Exception {
    Path copy = Files.createTempFile("staged-test", ".h5ad");
    Files.copy(path("csr_f32.h5ad"), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    AtlasOptions options = AtlasOptions.defaults().withHadoopConf(RemoteLikeFileSystem.conf());
    H5adSource source = new H5adSource(RemoteLikeFileSystem.uri(copy), options);
    long before = RemoteLikeFileSystem.OPENS.get();
    Csr first = read(source);
    Csr second = read(source);
    assertThat(RemoteLikeFileSystem.OPENS.get() - before).as("remote opens for two readers").isEqualTo(1);
    assertThat(second.values()).isEqualTo(first.values());

    // a changed file (new length and time) is staged again, not served from the old copy
    Files.copy(path("dense_f64.h5ad"), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.setLastModifiedTime(copy, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
    Csr changed = read(source);
    assertThat(RemoteLikeFileSystem.OPENS.get() - before).isEqualTo(2);
    assertThat(changed.indices()).isNotEqualTo(first.indices());
    Files.delete(copy);
  }

  @Test
  void rangeReadsTouchOnlyPartOfTheFile() throws Exception {
    // what one task of the range mode costs: counted positioned reads (each one a GET on S3)
    Path file = path("ties.h5ad");
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(RemoteLikeFileSystem.uri(file));
    var conf = HadoopFiles.configuration(RemoteLikeFileSystem.conf());
    var status = AtlasReaders.status(p.toString(), conf);
    HadoopSeekableChannel channel = new HadoopSeekableChannel(p.getFileSystem(conf).open(p), status.getLen());
    try (H5adReader reader = H5adReader.open(new io.jhdf.HdfFile(channel, p.toUri()), p.toString(), "t",
        H5adReaderTest.optionsFor("ties"))) {
      long afterOpen = channel.reads();
      reader.read(100, 120);
      System.out.printf("range mode on ties.h5ad (%d bytes): open %d reads, one 20-cell block %d reads, %d bytes "
          + "in all%n", status.getLen(), afterOpen, channel.reads() - afterOpen, channel.bytesRead());
      assertThat(channel.bytesRead()).isLessThan(status.getLen() * 2);
    }
  }

  private static AtlasSource roundTrip(AtlasSource source) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(source);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return (AtlasSource) in.readObject();
    }
  }
}
