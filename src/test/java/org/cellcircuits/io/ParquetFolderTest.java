package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Row counts from footers: data files summed, Spark's marker and checksum files ignored. */
class ParquetFolderTest {
  private static final MessageType SCHEMA = MessageTypeParser.parseMessageType(
      "message t { required int64 x; }");

  @TempDir
  Path tmp;

  @Test
  void sumsTheRowsOfEveryDataFileAndNothingElse() throws IOException {
    write(tmp.resolve("part-0.parquet"), 3);
    write(tmp.resolve("part-1.parquet"), 5);
    write(tmp.resolve("part-2.parquet"), 0);
    Files.write(tmp.resolve("_SUCCESS"), new byte[0]);
    Files.write(tmp.resolve(".part-0.parquet.crc"), new byte[] {1, 2, 3});
    assertThat(ParquetFolder.rowCount(new Configuration(), tmp.toString())).isEqualTo(8);
  }

  private static void write(Path file, int rows) throws IOException {
    SimpleGroupFactory groups = new SimpleGroupFactory(SCHEMA);
    try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri()))
        .withType(SCHEMA).build()) {
      for (int i = 0; i < rows; i++) {
        w.write(groups.newGroup().append("x", (long) i));
      }
    }
  }
}
