package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A long run of batches leaves no native memory behind: every batch's arrays die with its scratch manager. */
class NativeMemoryTest {

    @Test
    void thousandBatchesLeaveNoArraysAndNoResidentGrowth() throws IOException {
        try (GptNeoX model = GptNeoX.load(NeoXFixtures.folder("parallel_rot25"), Device.cpu());
                NDManager base = NDManager.newBaseManager(Device.cpu())) {
            Random random = new Random(3);
            ForwardOptions options = ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST)
                    .keeping(List.of(HookNames.mlpIn(0), HookNames.mlpOut(0), HookNames.mlpIn(2), HookNames.mlpOut(2)))
                    .replacingMlp(1, MlpReplacement.zero());
            int modelArrays = model.manager().getManagedArrays().size();
            long rssAfterWarmup = 0;
            double checksum = 0;
            for (int i = 0; i < 1000; i++) {
                if (i == 100) {
                    System.gc();
                    rssAfterWarmup = rssKb();
                }
                List<long[]> seqs = new ArrayList<>();
                for (int b = 0; b < 2; b++) {
                    long[] s = new long[3 + random.nextInt(10)];
                    for (int t = 0; t < s.length; t++) {
                        s[t] = 1 + random.nextInt(96);
                    }
                    seqs.add(s);
                }
                TokenBatch batch = i % 2 == 0 ? TokenBatch.leftPadded(seqs, 0) : TokenBatch.rightPadded(seqs, 0);
                try (ActivationCache cache = model.run(base, batch, options)) {
                    checksum += cache.logits().sum().getFloat() + cache.get(HookNames.mlpOut(2)).sum().getFloat();
                }
                assertThat(base.getManagedArrays()).as("arrays left in the caller's manager after batch %d", i).isEmpty();
            }
            System.gc();
            long rssEnd = rssKb();
            assertThat(Double.isFinite(checksum)).isTrue();
            assertThat(model.manager().getManagedArrays()).as("arrays in the model's manager").hasSize(modelArrays);
            assertThat(rssEnd - rssAfterWarmup).as("resident memory growth over 900 batches, kB (%d -> %d)", rssAfterWarmup, rssEnd)
                    .isLessThan(64 * 1024);
        }
    }

    private static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
