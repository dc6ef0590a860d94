package org.cellcircuits.report;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Debian's Chromium in headless mode, driven over the Chrome DevTools Protocol with the JDK's own WebSocket client:
 * open a page from disk, collect what it logs as errors, read its visible text, save a screenshot.
 *
 * <p>Why the protocol rather than Selenium: Selenium needs a chromedriver of the browser's exact major version (one
 * more Debian package, and Selenium's own CDP modules trail new Chromium releases) and a few MB of jars; the protocol
 * needs neither, and its error events ({@code Runtime.exceptionThrown}, {@code console.error}, {@code Log.entryAdded}
 * such as a script file that failed to load) are exactly what the report tests check.
 *
 * <p>Errors recorded for a page: uncaught exceptions, {@code console.error}/{@code console.assert} calls, and browser
 * log entries of level error (failed resource loads, CSP and mixed-content refusals).
 */
public final class HeadlessChromium implements AutoCloseable {
  private static final List<String> BINARIES = List.of("chromium", "chromium-browser", "google-chrome");
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final Process process;
  private final Path profile;
  private final WebSocket socket;
  private String session; // the page's, once attached; null addresses the browser
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();
  private final List<JsonObject> events = new CopyOnWriteArrayList<>();

  /** What one page showed. */
  public record PageResult(List<String> errors, String text, int canvases, int svgs) {}

  private HeadlessChromium(Process process, Path profile, WebSocket socket) {
    this.process = process;
    this.profile = profile;
    this.socket = socket;
  }

  /**
   * Starts Chromium (the binary named by {@code $CHROMIUM}, else {@code chromium} or {@code chromium-browser} or
   * {@code google-chrome} on the PATH) with a fresh profile and one blank page.
   *
   * @throws IllegalStateException when no browser is installed, saying how to install one
   */
  public static HeadlessChromium start() throws IOException, InterruptedException {
    String binary = findBinary();
    Path profile = Files.createTempDirectory("cellcircuits-chromium-");
    List<String> command = new ArrayList<>(List.of(binary, "--headless=new", "--remote-debugging-port=0",
        "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check", "--disable-gpu",
        "--disable-dev-shm-usage", "--disable-extensions", "--hide-scrollbars", "--window-size=1400,1000"));
    if ("root".equals(System.getProperty("user.name"))) {
      command.add("--no-sandbox"); // Chromium refuses to start its sandbox as root
    }
    command.add("about:blank");
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(profile.resolve("chromium.log").toFile()).start();
    try {
      Path portFile = profile.resolve("DevToolsActivePort");
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      while (!Files.isRegularFile(portFile) || Files.readAllLines(portFile).size() < 2) {
        if (!process.isAlive() || System.nanoTime() > deadline) {
          throw new IOException(String.format("%s did not open its DevTools port (%s); its log:%n%s", binary,
              process.isAlive() ? "timed out after " + TIMEOUT.toSeconds() + " s" : "exited " + process.exitValue(),
              Files.readString(profile.resolve("chromium.log"))));
        }
        Thread.sleep(50);
      }
      List<String> lines = Files.readAllLines(portFile);
      URI browser = URI.create("ws://127.0.0.1:" + lines.get(0).strip() + lines.get(1).strip());
      Listener listener = new Listener();
      WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(TIMEOUT)
          .buildAsync(browser, listener).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      HeadlessChromium page = new HeadlessChromium(process, profile, socket);
      listener.owner = page;
      JsonObject created = page.send("Target.createTarget", obj("url", "about:blank"));
      JsonObject attach = new JsonObject();
      attach.addProperty("targetId", created.get("targetId").getAsString());
      attach.addProperty("flatten", true);
      page.session = page.send("Target.attachToTarget", attach).get("sessionId").getAsString();
      for (String domain : List.of("Runtime", "Log", "Page")) {
        page.send(domain + ".enable", new JsonObject());
      }
      return page;
    } catch (Exception e) {
      process.destroyForcibly();
      deleteTree(profile);
      if (e instanceof IOException io) {
        throw io;
      }
      throw new IOException("cannot drive " + binary + " over the DevTools protocol: " + e, e);
    }
  }

  private static String findBinary() {
    String configured = System.getenv("CHROMIUM");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    String path = System.getenv().getOrDefault("PATH", "");
    for (String name : BINARIES) {
      for (String dir : path.split(File.pathSeparator)) {
        if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
          return Path.of(dir, name).toString();
        }
      }
    }
    throw new IllegalStateException(String.format("no headless browser for the report tests: none of %s is on the "
        + "PATH (%s) and $CHROMIUM is not set. .ci/run installs Debian's chromium when it is missing; locally run "
        + "`apt-get install -y --no-install-recommends chromium` (or set CHROMIUM to a Chrome/Chromium binary)",
        BINARIES, path));
  }

  /**
   * Opens a file, waits for its load event and for the page to settle, and saves a full-page PNG.
   *
   * @param screenshot where to save the PNG, or null for none
   */
  public PageResult open(Path file, Path screenshot) throws IOException, InterruptedException {
    events.clear();
    CompletableFuture<JsonObject> loaded = nextEvent("Page.loadEventFired");
    JsonObject nav = send("Page.navigate", obj("url", file.toAbsolutePath().toUri().toString()));
    if (nav.has("errorText")) {
      throw new IOException("chromium could not open " + file + ": " + nav.get("errorText").getAsString());
    }
    try {
      loaded.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException("page " + file + " did not finish loading in " + TIMEOUT.toSeconds() + " s", e);
    }
    // two animation frames: whatever the page's scripts draw on load is painted
    evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))");
    String text = evaluate("document.body ? document.body.innerText : ''").getAsString();
    int canvases = evaluate("document.querySelectorAll('canvas').length").getAsInt();
    int svgs = evaluate("document.querySelectorAll('svg').length").getAsInt();
    if (screenshot != null) {
      screenshot(screenshot);
    }
    return new PageResult(errors(), text, canvases, svgs);
  }

  /** Evaluates a JavaScript expression in the page (awaiting a promise) and returns its value. */
  public JsonElement evaluate(String expression) throws IOException {
    JsonObject params = obj("expression", expression);
    params.addProperty("returnByValue", true);
    params.addProperty("awaitPromise", true);
    JsonObject r = send("Runtime.evaluate", params);
    if (r.has("exceptionDetails")) {
      throw new IOException("evaluating `" + expression + "` threw: " + r.get("exceptionDetails"));
    }
    JsonObject result = r.getAsJsonObject("result");
    return result.has("value") ? result.get("value") : com.google.gson.JsonNull.INSTANCE;
  }

  /** Saves the whole page (not only the window) as a PNG. */
  public void screenshot(Path png) throws IOException {
    JsonObject metrics = send("Page.getLayoutMetrics", new JsonObject()).getAsJsonObject("cssContentSize");
    JsonObject clip = new JsonObject();
    clip.addProperty("x", 0);
    clip.addProperty("y", 0);
    clip.addProperty("width", Math.max(1, metrics.get("width").getAsDouble()));
    clip.addProperty("height", Math.min(16_000, Math.max(1, metrics.get("height").getAsDouble())));
    clip.addProperty("scale", 1);
    JsonObject params = obj("format", "png");
    params.add("clip", clip);
    params.addProperty("captureBeyondViewport", true);
    String data = send("Page.captureScreenshot", params).get("data").getAsString();
    Files.createDirectories(png.toAbsolutePath().getParent());
    Files.write(png, Base64.getDecoder().decode(data));
  }

  /** The errors the page has reported since it was opened, one line each. */
  public List<String> errors() {
    List<String> out = new ArrayList<>();
    for (JsonObject e : events) {
      String method = e.get("method").getAsString();
      JsonObject p = e.getAsJsonObject("params");
      switch (method) {
        case "Runtime.exceptionThrown" -> out.add("exception: " + p.getAsJsonObject("exceptionDetails"));
        case "Runtime.consoleAPICalled" -> {
          String type = p.get("type").getAsString();
          if (type.equals("error") || type.equals("assert")) {
            out.add("console." + type + ": " + p.get("args"));
          }
        }
        case "Log.entryAdded" -> {
          JsonObject entry = p.getAsJsonObject("entry");
          if (entry.get("level").getAsString().equals("error")) {
            out.add("log: " + entry.get("text").getAsString()
                + (entry.has("url") ? " (" + entry.get("url").getAsString() + ")" : ""));
          }
        }
        default -> { }
      }
    }
    return out;
  }

  private JsonObject send(String method, JsonObject params) throws IOException {
    String sessionId = session;
    int id = ids.incrementAndGet();
    JsonObject message = new JsonObject();
    message.addProperty("id", id);
    message.addProperty("method", method);
    message.add("params", params);
    if (sessionId != null) {
      message.addProperty("sessionId", sessionId);
    }
    CompletableFuture<JsonObject> reply = new CompletableFuture<>();
    pending.put(id, reply);
    try {
      socket.sendText(message.toString(), true).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      JsonObject r = reply.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      if (r.has("error")) {
        throw new IOException("DevTools " + method + " failed: " + r.get("error"));
      }
      return r.getAsJsonObject("result");
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("DevTools " + method + " got no answer in " + TIMEOUT.toSeconds() + " s: " + e, e);
    } finally {
      pending.remove(id);
    }
  }

  private final Map<String, List<CompletableFuture<JsonObject>>> waiters = new ConcurrentHashMap<>();

  private CompletableFuture<JsonObject> nextEvent(String method) {
    CompletableFuture<JsonObject> f = new CompletableFuture<>();
    waiters.computeIfAbsent(method, m -> new CopyOnWriteArrayList<>()).add(f);
    return f;
  }

  private void receive(String text) {
    JsonObject m = JsonParser.parseString(text).getAsJsonObject();
    if (m.has("id")) {
      CompletableFuture<JsonObject> f = pending.get(m.get("id").getAsInt());
      if (f != null) {
        f.complete(m);
      }
      return;
    }
    if (m.has("method")) {
      events.add(m);
      List<CompletableFuture<JsonObject>> w = waiters.remove(m.get("method").getAsString());
      if (w != null) {
        w.forEach(f -> f.complete(m));
      }
    }
  }

  private static final class Listener implements WebSocket.Listener {
    volatile HeadlessChromium owner;
    private final StringBuilder partial = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String message = partial.toString();
        partial.setLength(0);
        HeadlessChromium o = owner;
        if (o != null) {
          o.receive(message);
        }
      }
      webSocket.request(1);
      return null;
    }
  }

  private static JsonObject obj(String key, String value) {
    JsonObject o = new JsonObject();
    o.addProperty(key, value);
    return o;
  }

  @Override
  public void close() throws IOException {
    try {
      socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
    } catch (RuntimeException ignored) {
      // the browser is stopped below either way
    }
    // the browser's helper processes (zygote, renderers, network service) too: they write into the profile until
    // they exit, and a profile deleted under a running one comes back half-written
    List<ProcessHandle> helpers = process.descendants().toList();
    process.destroy();
    helpers.forEach(ProcessHandle::destroy);
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      for (ProcessHandle h : helpers) {
        if (h.isAlive()) {
          h.destroyForcibly();
          h.onExit().get(10, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // a helper that will not exit leaves a temp profile behind: harmless
    }
    deleteTree(profile);
  }

  private static void deleteTree(Path dir) {
    // a file that vanishes while the tree is walked (a helper process's last write) is not an error: retry the walk
    for (int attempt = 0; attempt < 3; attempt++) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        return;
      } catch (IOException | java.io.UncheckedIOException ignored) {
        // a temp profile left behind is harmless
      }
    }
  }
}
