package org.cellcircuits.sentences;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;

/**
 * {@link RemoteLikeFileSystem} with statuses that do not ask java.io.File for permissions (which fails for its non-file
 * scheme when a folder is listed), for tests that list and copy whole folders (model folders, transcoders,
 * checkpoints) the way they are on s3a://.
 */
public class RemoteLikeFolders extends RemoteLikeFileSystem {
  @Override
  public FileStatus[] listStatus(org.apache.hadoop.fs.Path f) throws java.io.IOException {
    FileStatus[] in = super.listStatus(f);
    FileStatus[] out = new FileStatus[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = plain(in[i]);
    }
    return out;
  }

  @Override
  public FileStatus getFileStatus(org.apache.hadoop.fs.Path f) throws java.io.IOException {
    return plain(super.getFileStatus(f));
  }

  private static FileStatus plain(FileStatus s) {
    return new FileStatus(s.getLen(), s.isDirectory(), 1, s.getBlockSize(), s.getModificationTime(), s.getPath());
  }

  /** A Hadoop configuration in which {@code remotelike://} paths use this file system. */
  public static Configuration configuration() {
    Configuration conf = new Configuration();
    conf.set("fs." + SCHEME + ".impl", RemoteLikeFolders.class.getName());
    conf.set("fs." + SCHEME + ".impl.disable.cache", "true");
    return conf;
  }
}
