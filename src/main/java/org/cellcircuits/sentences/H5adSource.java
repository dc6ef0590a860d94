package org.cellcircuits.sentences;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;

import java.io.IOException;
import java.net.URI;
import java.util.Objects;
import org.cellcircuits.runtime.HadoopFiles;
import org.cellcircuits.runtime.StagedCopies;

/**
 * An .h5ad atlas by path, for Spark tasks to open: a local path (or file:) is opened directly; any other Hadoop
 * path (s3a://, hdfs://, ...) is read through the Hadoop FileSystem, either from a local copy staged once per
 * executor JVM or with positioned range reads, as {@link AtlasOptions#remoteAccess()} says.
 *
 * @param path    the file, as the user wrote it (also what error messages name)
 * @param options how to read it
 */
public record H5adSource(String path, AtlasOptions options) implements AtlasSource {

  public H5adSource {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(options, "options");
  }

  @Override
  public AtlasReader open() throws IOException {
    if (HadoopFiles.isLocal(path)) {
      return H5adReader.open(HadoopFiles.localPath(path), options);
    }
    Configuration conf = HadoopFiles.configuration(options.hadoopConf());
    FileStatus status = AtlasReaders.status(path, conf);
    if (status.isDirectory()) {
      throw AtlasFormatException.of(path, "file", "is a folder", "an .h5ad file");
    }
    String key = "h5ad|" + HadoopFiles.fingerprint(status);
    if (options.remoteAccess() == AtlasOptions.RemoteAccess.STAGE) {
      java.nio.file.Path local = StagedCopies.localCopy(status, conf);
      return H5adReader.open(H5adReader.unmapped(local, path), path, key, options);
    }
    return openRange(status, conf, key);
  }

  private H5adReader openRange(FileStatus status, Configuration conf, String key) throws IOException {
    FSDataInputStream in = status.getPath().getFileSystem(conf).open(status.getPath());
    HadoopSeekableChannel channel = new HadoopSeekableChannel(in, status.getLen());
    return H5adReader.open(H5adReader.overChannel(channel, URI.create(path), path), path, key, options);
  }
}
