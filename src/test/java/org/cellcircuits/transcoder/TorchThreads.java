package org.cellcircuits.transcoder;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Runs libtorch single-threaded while training tests run: their arrays are tiny, so intra-op threads only add
 * contention on a shared 2-core machine (tens of milliseconds per step instead of about one). Restored afterwards.
 */
final class TorchThreads {

    private static int saved = -1;

    private TorchThreads() {}

    static synchronized void single() {
        Engine.getInstance(); // loads libtorch before the JNI call
        if (saved < 0) {
            saved = JniUtils.getNumThreads();
        }
        JniUtils.setNumThreads(1);
    }

    static synchronized void restore() {
        if (saved > 0) {
            JniUtils.setNumThreads(saved);
            saved = -1;
        }
    }
}
