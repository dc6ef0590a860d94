package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jobs/convert-checkpoint writes safetensors files that {@link SafetensorsReader} reads back exactly. Needs python3
 * (skipped without it). Its hand-written safetensors writer is plain Python and always tested; the conversion itself
 * runs against a stand-in torch module here (this machine has no torch), and against the real torch where
 * {@code python3 -c 'import torch'} works.
 */
class ConvertCheckpointScriptTest {
  private static final String SCRIPT = "jobs/convert-checkpoint";

  /** Loads the script (no .py suffix) as module {@code cc}. */
  private static final String LOAD = String.join("\n",
      "import importlib.machinery, importlib.util, struct, sys",
      "loader = importlib.machinery.SourceFileLoader('cc', '" + SCRIPT + "')",
      "spec = importlib.util.spec_from_loader('cc', loader)",
      "cc = importlib.util.module_from_spec(spec)",
      "loader.exec_module(cc)",
      "");

  /**
   * A stand-in for the few torch calls the script makes: load() unpickles {name: (torch dtype name, shape, raw
   * bytes)}; tensors reshape, view and convert without touching their bytes, and numpy() hands the bytes over.
   */
  private static final String FAKE_TORCH = String.join("\n",
      "import pickle, types",
      "class DType:",
      "    def __init__(self, name): self.name = name",
      "    def __str__(self): return 'torch.' + self.name",
      "class Tensor:",
      "    def __init__(self, dtype, shape, data): self.dtype, self.shape, self.data = dtype, tuple(shape), data",
      "    def detach(self): return self",
      "    def cpu(self): return self",
      "    def contiguous(self): return self",
      "    def reshape(self, *s): return Tensor(self.dtype, (len(self.data),), self.data)",
      "    def view(self, d): return Tensor(d, self.shape, self.data)",
      "    def to(self, d): return Tensor(d, self.shape, self.data)",
      "    def numpy(self): return memoryview(self.data)",
      "torch = types.ModuleType('torch')",
      "for n in ('int16', 'uint8'): setattr(torch, n, DType(n))",
      "def load(path, map_location=None, weights_only=False):",
      "    assert map_location == 'cpu' and weights_only",
      "    with open(path, 'rb') as f:",
      "        return {k: Tensor(DType(d), s, b) for k, (d, s, b) in pickle.load(f).items()}",
      "torch.load = load",
      "sys.modules['torch'] = torch",
      "def save(path, state):",
      "    with open(path, 'wb') as f: pickle.dump(state, f)",
      "");

  @TempDir Path tmp;

  /** python3, or a skip here and a failure on CI ({@code CI=true}), where .ci/run installs it. */
  private static String requirePython() {
    String python = python();
    if (python == null && "true".equalsIgnoreCase(System.getenv("CI"))) {
      org.junit.jupiter.api.Assertions.fail("python3 is not installed; on CI .ci/run installs Debian's python3");
    }
    assumeTrue(python != null, "python3 is not installed");
    return python;
  }

  private static String python() {
    for (String candidate : List.of("python3", "/usr/bin/python3")) {
      try {
        Process p = new ProcessBuilder(candidate, "-c", "import sys; assert sys.version_info >= (3, 6)")
            .redirectErrorStream(true).start();
        if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
          return candidate;
        }
      } catch (IOException e) {
        // try the next one
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    return null;
  }

  private record Run(int code, String output) {}

  private static Run run(String python, String program, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(python, "-c", program));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("python finished").isTrue();
    return new Run(p.exitValue(), output);
  }

  @Test
  void theHandWrittenWriterMakesFilesTheJavaReaderReadsExactly() throws Exception {
    String python = requirePython();
    Path file = tmp.resolve("w.safetensors");
    // every value is exact in its type, so the reader must return it bit for bit
    String program = LOAD + String.join("\n",
        "bf16 = lambda xs: b''.join(struct.pack('<f', x)[2:] for x in xs)",
        "cc.write_safetensors(sys.argv[1], [",
        "    ('a.f32', 'F32', [2, 3], struct.pack('<6f', 1.5, -2.25, 0.0078125, 1e6, -0.0, 7.0)),",
        "    ('b.f16', 'F16', [4], struct.pack('<4e', 0.5, -1.0, 65504.0, 2.0 ** -14)),",
        "    ('c.bf16', 'BF16', [2, 2], bf16([1.0, -2.5, 3.140625, 2.0 ** 100])),",
        "    ('d.i64', 'I64', [3], struct.pack('<3q', 0, -7, 2 ** 40)),",
        "    ('e.scalar', 'F32', [], struct.pack('<f', 0.25)),",
        "], {'format': 'pt'})");
    Run r = run(python, program, file.toString());
    assertThat(r.code()).as(r.output()).isZero();

    long headerLength = java.nio.ByteBuffer.wrap(Files.readAllBytes(file), 0, 8)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(headerLength % 8).as("header padded to 8 bytes, as safetensors' writer does").isZero();
    try (SafetensorsReader reader = SafetensorsReader.open(file)) {
      assertThat(reader.names()).containsExactly("a.f32", "b.f16", "c.bf16", "d.i64", "e.scalar");
      assertThat(reader.metadata()).isEqualTo(Map.of("format", "pt"));
      assertThat(reader.info("a.f32").shape()).containsExactly(2, 3);
      assertThat(reader.readFloats("a.f32")).containsExactly(1.5f, -2.25f, 0.0078125f, 1e6f, -0.0f, 7.0f);
      assertThat(reader.info("b.f16").dtype()).isEqualTo(SafetensorsDType.F16);
      assertThat(reader.readFloats("b.f16")).containsExactly(0.5f, -1.0f, 65504.0f, 0x1p-14f);
      assertThat(reader.info("c.bf16").dtype()).isEqualTo(SafetensorsDType.BF16);
      assertThat(reader.info("c.bf16").shape()).containsExactly(2, 2);
      assertThat(reader.readFloats("c.bf16")).containsExactly(1.0f, -2.5f, 3.140625f, 0x1p100f);
      assertThat(reader.readLongs("d.i64")).containsExactly(0L, -7L, 1L << 40);
      assertThat(reader.info("e.scalar").shape()).isEmpty();
      assertThat(reader.readFloats("e.scalar")).containsExactly(0.25f);
    }
  }

  @Test
  void theWriterRefusesBytesThatDoNotMatchTheShape() throws Exception {
    String python = requirePython();
    Run r = run(python, LOAD + "cc.write_safetensors(sys.argv[1], [('w', 'F32', [2, 2], bytes(12))])",
        tmp.resolve("bad.safetensors").toString());
    assertThat(r.code()).isNotZero();
    assertThat(r.output()).contains("tensor w: 12 bytes for F32 [2, 2]; expected 16");
  }

  @Test
  void aFolderWithAPytorchCheckpointGetsAModelSafetensorsWithItsWeightsInTheirOwnDtypes() throws Exception {
    String python = requirePython();
    Path single = Files.createDirectories(tmp.resolve("single"));
    Path sharded = Files.createDirectories(tmp.resolve("sharded"));
    String program = LOAD + FAKE_TORCH + String.join("\n",
        "bf16 = lambda xs: b''.join(struct.pack('<f', x)[2:] for x in xs)",
        "weights = {",
        "    'gpt_neox.embed_in.weight': ('bfloat16', [3, 2], bf16([1.0, -2.0, 0.5, 0.25, 4.0, -8.0])),",
        "    'gpt_neox.layers.0.mlp.dense_h_to_4h.bias': ('float32', [2], struct.pack('<2f', 0.125, -3.5)),",
        "}",
        "buffers = {",
        "    'gpt_neox.layers.0.attention.bias': ('bool', [1, 1, 2, 2], bytes([1, 0, 1, 1])),",
        "    'gpt_neox.layers.0.attention.masked_bias': ('float32', [], struct.pack('<f', -1e9)),",
        "    'gpt_neox.layers.0.attention.rotary_emb.inv_freq': ('float32', [1], struct.pack('<f', 1.0)),",
        "}",
        "single, sharded = sys.argv[1], sys.argv[2]",
        "save(single + '/pytorch_model.bin', {**weights, **buffers})",
        "names = list(weights)",
        "save(sharded + '/pytorch_model-00001-of-00002.bin', {names[0]: weights[names[0]], **buffers})",
        "save(sharded + '/pytorch_model-00002-of-00002.bin', {names[1]: weights[names[1]]})",
        "import json",
        "with open(sharded + '/pytorch_model.bin.index.json', 'w') as f:",
        "    json.dump({'weight_map': {names[0]: 'pytorch_model-00001-of-00002.bin',",
        "                              names[1]: 'pytorch_model-00002-of-00002.bin'}}, f)",
        "codes = [cc.main([single]), cc.main([sharded]), cc.main([single])]",
        "print('codes', codes)");
    Run r = run(python, program, single.toString(), sharded.toString());
    assertThat(r.output()).as(r.output()).contains("codes [0, 0, 2]");
    assertThat(r.output()).contains("wrote " + single.resolve("model.safetensors") + ": 2 tensors (BF16, F32)")
        .contains("left out 3 buffers that are not weights")
        .contains(single.resolve("model.safetensors") + " already exists; pass --force to replace it");
    for (Path folder : List.of(single, sharded)) {
      try (SafetensorsReader reader = SafetensorsReader.open(folder)) {
        assertThat(reader.names()).as("%s", folder).containsExactlyInAnyOrder(
            "gpt_neox.embed_in.weight", "gpt_neox.layers.0.mlp.dense_h_to_4h.bias");
        assertThat(reader.info("gpt_neox.embed_in.weight").dtype()).isEqualTo(SafetensorsDType.BF16);
        assertThat(reader.info("gpt_neox.embed_in.weight").shape()).containsExactly(3, 2);
        assertThat(reader.readFloats("gpt_neox.embed_in.weight"))
            .containsExactly(1.0f, -2.0f, 0.5f, 0.25f, 4.0f, -8.0f);
        assertThat(reader.readFloats("gpt_neox.layers.0.mlp.dense_h_to_4h.bias")).containsExactly(0.125f, -3.5f);
      }
    }
    try (var files = Files.list(single)) {
      assertThat(files.map(p -> p.getFileName().toString())).as("no temporary file left behind")
          .containsExactlyInAnyOrder("pytorch_model.bin", "model.safetensors");
    }
  }

  @Test
  void aFolderWithoutPytorchWeightsIsAUsageError() throws Exception {
    String python = requirePython();
    Run r = run(python, LOAD + "sys.exit(cc.main(sys.argv[1:]))", tmp.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.output()).contains(tmp + " has neither pytorch_model.bin nor pytorch_model.bin.index.json");
  }

  @Test
  void withRealTorchATorchSavedCheckpointConvertsToo() throws Exception {
    String python = requirePython();
    assumeTrue(run(python, "import torch").code() == 0, "torch is not installed (Debian: python3-torch)");
    Path folder = Files.createDirectories(tmp.resolve("torch"));
    String program = String.join("\n",
        "import subprocess, sys, torch",
        "state = {",
        "    'gpt_neox.embed_in.weight': torch.tensor([[1.0, -2.0], [0.5, 2.0 ** 100]], dtype=torch.bfloat16),",
        "    'gpt_neox.final_layer_norm.bias': torch.tensor([0.125, -3.5, 7.0], dtype=torch.float32),",
        "    'embed_out.weight': torch.arange(6, dtype=torch.float16).reshape(3, 2).t(),",  // not contiguous
        "    'gpt_neox.layers.0.attention.bias': torch.ones(1, 1, 2, 2, dtype=torch.bool),",
        "}",
        "torch.save(state, sys.argv[1] + '/pytorch_model.bin')",
        "sys.exit(subprocess.call([sys.executable, '" + SCRIPT + "', sys.argv[1]]))");
    Run r = run(python, program, folder.toString());
    assertThat(r.code()).as(r.output()).isZero();
    try (SafetensorsReader reader = SafetensorsReader.open(folder)) {
      assertThat(reader.names()).containsExactlyInAnyOrder(
          "gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm.bias", "embed_out.weight");
      assertThat(reader.info("gpt_neox.embed_in.weight").dtype()).isEqualTo(SafetensorsDType.BF16);
      assertThat(reader.readFloats("gpt_neox.embed_in.weight")).containsExactly(1.0f, -2.0f, 0.5f, 0x1p100f);
      assertThat(reader.readFloats("gpt_neox.final_layer_norm.bias")).containsExactly(0.125f, -3.5f, 7.0f);
      assertThat(reader.info("embed_out.weight").shape()).containsExactly(2, 3);
      assertThat(reader.readFloats("embed_out.weight")).containsExactly(0f, 2f, 4f, 1f, 3f, 5f);
    }
  }
}
