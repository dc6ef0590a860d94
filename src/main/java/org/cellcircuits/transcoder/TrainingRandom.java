package org.cellcircuits.transcoder;

/**
 * The trainer's only source of randomness (weight init, resampling draws): SplitMix64, whose whole state is one
 * long. That long goes into checkpoints, so a resumed run draws exactly what the uninterrupted run would have drawn;
 * java.util.Random and SplittableRandom do not expose their state. PyTorch's global generator is never used, so
 * two trainers in one JVM (two layers in one Spark executor) cannot disturb each other.
 */
final class TrainingRandom {

    private long state;

    TrainingRandom(long seed) {
        this.state = seed;
    }

    /** The state to checkpoint; {@code new TrainingRandom(state())} continues the same sequence. */
    long state() {
        return state;
    }

    long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1). */
    double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Standard normal by Box-Muller; the second value is dropped so the state stays one long. */
    double nextGaussian() {
        double u1 = 1.0 - nextDouble(); // (0, 1]: log is finite
        double u2 = nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }
}
