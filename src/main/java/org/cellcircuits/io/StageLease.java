package org.cellcircuits.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One writer per stage per run root: a small file {@code <root>/<stage>/_LEASE.json} that a run creates before it
 * touches the stage folder (deletes uncommitted attempts, writes a new one, commits) and removes after the commit or
 * the failure. A second run of the same stage finds it and refuses, naming the holder, instead of deleting the first
 * run's attempt.
 *
 * <p>The holder rewrites the file every quarter of the timeout (a daemon heartbeat thread), so its modification time
 * says the holder is alive. A lease whose file was last written more than the timeout ago belongs to a run that died
 * without removing it (SIGKILL, a lost driver): the next run takes it over, with a warning naming the old holder. The
 * age is measured against the file system's modification time, so the clocks of this host and the store must agree
 * to well within the timeout ({@code cellcircuits.run.lease-timeout}, default 10 minutes).
 *
 * <p>Creating the lease must fail when it exists:
 *
 * <ul>
 *   <li>local disk: {@code O_CREAT|O_EXCL} ({@link StandardOpenOption#CREATE_NEW}), atomic;
 *   <li>HDFS and other file systems: {@code FileSystem.create(path, overwrite = false)}, atomic on HDFS;
 *   <li>S3 (hadoop-aws 3.3.4 has no conditional PUT; {@code If-None-Match} arrives with 3.4): S3A's create checks
 *       with a HEAD that nothing is there and PUTs on close, so two runs starting within one HEAD-plus-PUT of each
 *       other (tens of milliseconds) could both create it. To close that window each creator waits a settle time (1
 *       s, at most a quarter of the timeout) and reads the lease back: the last PUT wins, and the run that finds
 *       another's token refuses. Taking over a stale lease (a plain overwrite) is checked the same way.
 * </ul>
 *
 * <p>Before the commit the holder checks that the lease is still its own ({@link #checkHeld}); a run that stalled past
 * the timeout and was taken over fails instead of committing over its successor.
 */
public final class StageLease implements AutoCloseable {
  /** File name of the lease inside a stage folder. */
  public static final String FILE = "_LEASE.json";

  /** Used when a caller names no timeout. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);

  private static final Logger LOG = LoggerFactory.getLogger(StageLease.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Duration MAX_SETTLE = Duration.ofSeconds(1);

  /**
   * What a lease file says.
   *
   * @param owner {@code user@host}
   * @param host host name of the driver
   * @param pid process id of the driver
   * @param pidNamespace the driver's pid namespace ({@code /proc/self/ns/pid}, e.g. {@code pid:[4026531836]}), null
   *     where unknown (not Linux, or a lease written by an older build): pids mean the same process only within one
   *     namespace, and containers on one host can share a host name
   * @param token random id of this acquisition; the holder recognizes its own lease by it
   * @param startedAt when the lease was taken
   * @param heartbeatAt when the holder last rewrote it
   */
  public record Holder(String owner, String host, long pid, String pidNamespace, String token, Instant startedAt,
      Instant heartbeatAt) {
    public Holder {
      Objects.requireNonNull(owner, "owner");
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(token, "token");
      Objects.requireNonNull(startedAt, "started_at");
      Objects.requireNonNull(heartbeatAt, "heartbeat_at");
    }

    String toJson() {
      JsonObject o = new JsonObject();
      o.addProperty("owner", owner);
      o.addProperty("host", host);
      o.addProperty("pid", pid);
      if (pidNamespace != null) {
        o.addProperty("pid_namespace", pidNamespace);
      }
      o.addProperty("token", token);
      o.addProperty("started_at", startedAt.toString());
      o.addProperty("heartbeat_at", heartbeatAt.toString());
      return new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n";
    }

    static Holder fromJson(String json) {
      JsonObject o = JsonParser.parseString(json).getAsJsonObject();
      return new Holder(o.get("owner").getAsString(), o.get("host").getAsString(), o.get("pid").getAsLong(),
          o.has("pid_namespace") ? o.get("pid_namespace").getAsString() : null,
          o.get("token").getAsString(), Instant.parse(o.get("started_at").getAsString()),
          Instant.parse(o.get("heartbeat_at").getAsString()));
    }

    /** The same lease with another heartbeat time. */
    public Holder withHeartbeat(Instant at) {
      return new Holder(owner, host, pid, pidNamespace, token, startedAt, at);
    }

    /** {@code me@host (pid 123)}. */
    public String describe() {
      return owner + " (pid " + pid + ")";
    }

    /**
     * Whether this holder is a process of this host and pid namespace that has ended: its pid runs nothing, or runs a
     * process started after the lease was taken (the pid was reused). False whenever that cannot be known (another
     * host or namespace, an unknown namespace), so such leases wait for the timeout.
     */
    public boolean endedOnThisHost() {
      String here = currentPidNamespace();
      if (pidNamespace == null || here == null || !pidNamespace.equals(here) || !host.equals(hostName())) {
        return false;
      }
      Optional<ProcessHandle> process = ProcessHandle.of(pid);
      if (process.isEmpty() || !process.get().isAlive()) {
        return true;
      }
      Optional<Instant> started = process.get().info().startInstant();
      // clocks round the start time to jiffies: allow a second before calling the pid reused
      return started.isPresent() && started.get().isAfter(startedAt.plusSeconds(1));
    }
  }

  /**
   * A lease as another run sees it.
   *
   * @param holder what the file says, or null when it cannot be parsed (being written, or damaged)
   * @param lastWritten the file's modification time: creation or the holder's latest heartbeat
   */
  public record Observed(Path path, Holder holder, Instant lastWritten) {
    /** Time since the last heartbeat, by this host's clock. */
    public Duration age() {
      Duration age = Duration.between(lastWritten, Instant.now());
      return age.isNegative() ? Duration.ZERO : age;
    }

    public boolean staleAfter(Duration timeout) {
      return age().compareTo(timeout) > 0;
    }

    /** {@code me@host (pid 123), started 2026-…, last heartbeat 4 s ago}. */
    public String describe() {
      String who = holder == null ? "an unknown writer (unreadable lease file)" : holder.describe() + ", started "
          + holder.startedAt();
      return who + ", last heartbeat " + age().toSeconds() + " s ago";
    }
  }

  private final FileSystem fs;
  private final Path path;
  private final String stage;
  private final Duration timeout;
  private final Holder mine;
  private final ScheduledExecutorService heartbeat;
  private volatile String lost;
  private volatile long lastBeatNanos;

  private StageLease(FileSystem fs, Path path, String stage, Duration timeout, Holder mine) {
    this.fs = fs;
    this.path = path;
    this.stage = stage;
    this.timeout = timeout;
    this.mine = mine;
    this.lastBeatNanos = System.nanoTime();
    this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "lease-heartbeat-" + stage);
      t.setDaemon(true);
      return t;
    });
    long every = Math.max(50, timeout.toMillis() / 4);
    heartbeat.scheduleWithFixedDelay(this::beat, every, every, TimeUnit.MILLISECONDS);
  }

  /** {@code <root>/<stage>/_LEASE.json}. */
  public static Path path(RunRoot root, String stage) {
    return new Path(root.stagePath(stage), FILE);
  }

  /**
   * Takes the stage's lease: creates it, or takes over one whose heartbeat is older than {@code timeout}.
   *
   * @throws StageLeaseHeldException naming the holder when another run holds a live lease
   */
  public static StageLease acquire(RunRoot root, String stage, Duration timeout) throws IOException {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("lease timeout " + timeout + " is invalid: expected a positive duration");
    }
    FileSystem fs = MarkerFiles.raw(root.fileSystem());
    Path path = path(root, stage);
    fs.mkdirs(path.getParent());
    Instant now = Instant.now();
    Holder mine = new Holder(System.getProperty("user.name", "unknown") + "@" + hostName(), hostName(),
        ProcessHandle.current().pid(), currentPidNamespace(), newToken(), now, now);
    Duration settle = MAX_SETTLE.compareTo(timeout.dividedBy(4)) < 0 ? MAX_SETTLE : timeout.dividedBy(4);
    for (int tries = 0; tries < 5; tries++) {
      if (createNew(fs, path, mine)) {
        if (!isLocal(path) && MarkerFiles.putOnClose(path)) {
          confirm(fs, path, stage, mine, settle, timeout);
        }
        LOG.info("stage {}: took lease {}", stage, path);
        return new StageLease(fs, path, stage, timeout, mine);
      }
      Optional<Observed> current = observe(fs, path);
      if (current.isEmpty()) {
        continue; // released between our create and our read: try again
      }
      Observed held = current.get();
      boolean ended = held.holder() != null && held.holder().endedOnThisHost();
      if (!ended && !held.staleAfter(timeout)) {
        throw held(stage, held, timeout);
      }
      if (ended) {
        LOG.warn("stage {}: taking over the lease {} of {}: that process has ended (same host and pid namespace)",
            stage, path, held.holder().describe());
      } else {
        LOG.warn("stage {}: taking over the lease {} of {}: no heartbeat for {} s, more than the lease timeout {}",
            stage, path, held.holder() == null ? "an unknown writer" : held.holder().describe(),
            held.age().toSeconds(), timeout);
      }
      MarkerFiles.replace(fs, path, bytes(mine));
      confirm(fs, path, stage, mine, settle, timeout);
      return new StageLease(fs, path, stage, timeout, mine);
    }
    throw new IOException(String.format("stage %s: could not take the lease %s (it kept appearing and disappearing)",
        stage, path));
  }

  /** The stage's lease when nobody holds a live one, else empty (never throws for a held lease). */
  public static Optional<StageLease> tryAcquire(RunRoot root, String stage, Duration timeout) throws IOException {
    try {
      return Optional.of(acquire(root, stage, timeout));
    } catch (StageLeaseHeldException e) {
      return Optional.empty();
    }
  }

  /** The stage's lease as it stands, for {@code status}; empty when none is held. */
  public static Optional<Observed> observe(RunRoot root, String stage) throws IOException {
    return observe(MarkerFiles.raw(root.fileSystem()), path(root, stage));
  }

  private static Optional<Observed> observe(FileSystem fs, Path path) throws IOException {
    FileStatus status;
    byte[] bytes;
    try {
      status = fs.getFileStatus(path);
      try (InputStream in = fs.open(path)) {
        bytes = in.readAllBytes();
      }
    } catch (FileNotFoundException e) {
      return Optional.empty();
    }
    Holder holder;
    try {
      holder = Holder.fromJson(new String(bytes, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      holder = null; // being written (local create-new makes the file before its bytes), or damaged
    }
    return Optional.of(new Observed(status.getPath(), holder, Instant.ofEpochMilli(status.getModificationTime())));
  }

  /** Waits out racing writers, then checks that the lease file is ours. */
  private static void confirm(FileSystem fs, Path path, String stage, Holder mine, Duration settle, Duration timeout)
      throws IOException {
    try {
      Thread.sleep(settle.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while taking the lease " + path, e);
    }
    Optional<Observed> now = observe(fs, path);
    if (now.isEmpty() || now.get().holder() == null || !now.get().holder().token().equals(mine.token())) {
      if (now.isPresent()) {
        throw held(stage, now.get(), timeout);
      }
      throw new IOException(String.format("stage %s: the lease %s vanished while it was being taken", stage, path));
    }
  }

  /** This process's pid namespace, {@code pid:[N]}, or null where there is no {@code /proc} (not Linux). */
  static String currentPidNamespace() {
    try {
      return Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString();
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return null;
    }
  }

  private static StageLeaseHeldException held(String stage, Observed held, Duration timeout) {
    return new StageLeaseHeldException(String.format(
        "stage %s is being written by another run: its lease %s is held by %s. A lease is taken over at once when "
            + "its process on this host has ended, otherwise once its heartbeat is older than "
            + "cellcircuits.run.lease-timeout (%s s); if that run is dead and you cannot wait, delete the lease file.",
        stage, held.path(), held.describe(), timeout.toSeconds()), held.holder());
  }

  private static boolean createNew(FileSystem fs, Path path, Holder mine) throws IOException {
    if (isLocal(path)) {
      try {
        Files.write(java.nio.file.Path.of(path.toUri()), bytes(mine), StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE);
        return true;
      } catch (FileAlreadyExistsException e) {
        return false;
      }
    }
    try (OutputStream out = fs.create(path, false)) {
      out.write(bytes(mine));
      return true;
    } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
      return false;
    } catch (IOException e) {
      if (fs.exists(path)) {
        return false; // some file systems say "exists" with a plain IOException
      }
      throw e;
    }
  }

  private static boolean isLocal(Path path) {
    return "file".equals(path.toUri().getScheme());
  }

  private static byte[] bytes(Holder holder) {
    return holder.toJson().getBytes(StandardCharsets.UTF_8);
  }

  /** One heartbeat: rewrite the lease if it is still ours; note it lost otherwise. */
  private void beat() {
    if (lost != null) {
      return;
    }
    try {
      Optional<Observed> now = observe(fs, path);
      if (now.isEmpty() || now.get().holder() == null || !now.get().holder().token().equals(mine.token())) {
        lost = now.map(o -> "it was taken over by " + o.describe()).orElse("its file " + path + " was deleted");
        LOG.error("stage {}: lost the lease: {}; this run will not commit", stage, lost);
        return;
      }
      MarkerFiles.replace(fs, path, bytes(mine.withHeartbeat(Instant.now())));
      lastBeatNanos = System.nanoTime();
    } catch (IOException | RuntimeException e) {
      long silent = System.nanoTime() - lastBeatNanos;
      LOG.warn("stage {}: lease heartbeat failed ({} ms since the last one): {}", stage, silent / 1_000_000,
          e.toString());
      if (silent > timeout.toNanos()) {
        lost = "no heartbeat could be written for longer than the lease timeout, so another run may have taken it";
      }
    }
  }

  /**
   * Fails unless this run still holds the lease: call before committing.
   *
   * @throws IOException naming who took it over
   */
  public void checkHeld() throws IOException {
    if (lost == null) {
      Optional<Observed> now = observe(fs, path);
      if (now.isEmpty() || now.get().holder() == null || !now.get().holder().token().equals(mine.token())) {
        lost = now.map(o -> "it was taken over by " + o.describe()).orElse("its file " + path + " was deleted");
      }
    }
    if (lost != null) {
      throw new IOException(String.format("stage %s: this run no longer holds the lease %s (%s); not committing",
          stage, path, lost));
    }
  }

  /** Who this run is, as written in the lease. */
  public Holder holder() {
    return mine;
  }

  /** Stops the heartbeat and removes the lease if it is still this run's. */
  @Override
  public void close() throws IOException {
    // shutdown, not shutdownNow: a heartbeat interrupted mid-write would leave its temporary file behind
    heartbeat.shutdown();
    try {
      heartbeat.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Optional<Observed> now = observe(fs, path);
    if (now.isPresent() && now.get().holder() != null && now.get().holder().token().equals(mine.token())) {
      fs.delete(path, false);
      LOG.info("stage {}: released lease {}", stage, path);
    }
  }

  private static String newToken() {
    byte[] token = new byte[8];
    RANDOM.nextBytes(token);
    return HexFormat.of().formatHex(token);
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return Objects.requireNonNullElse(System.getenv("HOSTNAME"), "unknown-host");
    }
  }
}
