package org.cellcircuits.sentences;

import org.apache.hadoop.fs.FSDataInputStream;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A read-only {@link SeekableByteChannel} over a Hadoop input stream, so that jhdf can read an .h5ad straight from
 * s3a:// (or any Hadoop file system) with positioned reads.
 *
 * <p>Each {@link #read} fills the whole buffer (unless the file ends): jhdf's own read loop re-reads from the same
 * address after a short read, so a channel that returned fewer bytes would corrupt what it reads.
 */
final class HadoopSeekableChannel implements SeekableByteChannel {
  private final FSDataInputStream in;
  private final long size;
  private long position;
  private boolean open = true;
  private final AtomicLong reads = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();

  HadoopSeekableChannel(FSDataInputStream in, long size) {
    this.in = in;
    this.size = size;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    if (position >= size) {
      return -1;
    }
    int want = (int) Math.min(dst.remaining(), size - position);
    byte[] buf = dst.hasArray() ? dst.array() : new byte[want];
    int off = dst.hasArray() ? dst.arrayOffset() + dst.position() : 0;
    try {
      in.readFully(position, buf, off, want);
    } catch (EOFException e) {
      throw new EOFException(String.format("reading %d bytes at %d of a %d-byte file: %s", want, position, size,
          e.getMessage()));
    }
    if (dst.hasArray()) {
      dst.position(dst.position() + want);
    } else {
      dst.put(buf, 0, want);
    }
    position += want;
    reads.incrementAndGet();
    bytes.addAndGet(want);
    return want;
  }

  @Override
  public int write(ByteBuffer src) {
    throw new NonWritableChannelException();
  }

  @Override
  public long position() {
    return position;
  }

  @Override
  public SeekableByteChannel position(long newPosition) {
    position = newPosition;
    return this;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public SeekableByteChannel truncate(long s) {
    throw new NonWritableChannelException();
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() throws IOException {
    open = false;
    in.close();
  }

  /** Number of positioned reads so far (each one a remote request on object stores). */
  long reads() {
    return reads.get();
  }

  long bytesRead() {
    return bytes.get();
  }
}
