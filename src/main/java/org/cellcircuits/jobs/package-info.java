/**
 * Spark entry points: one command line with a subcommand per stage; wiring only, no maths.
 *
 * <p>Naming, one rule for every stage {@code x}: {@code jobs/XStage} implements {@link org.cellcircuits.jobs.Stage}
 * (its name, upstream stages, config, tables and marker stats under the run root's commit protocol) and calls
 * {@code XJob}, the stage's Spark work (what the driver plans, what the tasks do, what is written). An {@code XJob}
 * lives in the stage's own package when that package may use Spark ({@code sentences/SentencesJob},
 * {@code harvest/HarvestJob}, {@code transcoder/TrainJob}, {@code evaluate/EvaluateJob}); here in {@code jobs} when
 * the package is kept free of Spark: {@link org.cellcircuits.jobs.CircuitsJob} (with {@link
 * org.cellcircuits.jobs.CellTracer}, its per-cell task work) for {@code circuits}, and for {@code interpret} its
 * three parts {@link org.cellcircuits.jobs.InterpretJob}, {@link org.cellcircuits.jobs.ValidationJob} and {@link
 * org.cellcircuits.jobs.ReportJob} (the {@code report} package's pages). No other class ends in {@code Stage} or
 * {@code Job} but {@link org.cellcircuits.jobs.PendingStage}, a registered stage not built yet; tests follow the
 * class they test ({@code XStageTest} runs the stage, {@code XJobTest} the Spark work alone). What a task needs from
 * its executor JVM (device, cached model and transcoders, Hadoop files) is in {@code org.cellcircuits.runtime}.
 */
package org.cellcircuits.jobs;
