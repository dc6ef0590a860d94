package org.cellcircuits.sentences;

import org.apache.hadoop.fs.RawLocalFileSystem;

import java.net.URI;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A local file system under another scheme ({@code remotelike:///tmp/x}), so that tests go down the path taken for
 * s3a:// and hdfs:// (everything through the Hadoop FileSystem API) without a network. Counts the files opened.
 */
public class RemoteLikeFileSystem extends RawLocalFileSystem {
  static final String SCHEME = "remotelike";
  static final AtomicLong OPENS = new AtomicLong();

  @Override
  public URI getUri() {
    return URI.create(SCHEME + ":///");
  }

  @Override
  public String getScheme() {
    return SCHEME;
  }

  @Override
  public org.apache.hadoop.fs.FSDataInputStream open(org.apache.hadoop.fs.Path f, int bufferSize)
      throws java.io.IOException {
    OPENS.incrementAndGet();
    return super.open(f, bufferSize);
  }

  static java.util.Map<String, String> conf() {
    return java.util.Map.of("fs." + SCHEME + ".impl", RemoteLikeFileSystem.class.getName(),
        "fs." + SCHEME + ".impl.disable.cache", "true");
  }

  static String uri(java.nio.file.Path local) {
    return SCHEME + "://" + local.toAbsolutePath();
  }
}
