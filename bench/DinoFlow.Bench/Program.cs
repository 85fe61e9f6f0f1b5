// DinoFlow benchmarks. Each prints its measurements and the ratios between variants run side by side in one
// process (this machine is noisy, so absolute numbers vary; ratios hold). Usage: dotnet run -c Release -- <name> [data-dir]
using DinoFlow.Bench;

var name = args.Length > 0 ? args[0] : "ingest";
var data = args.Length > 1 ? args[1] : BenchData.DefaultDataSet();
return name switch
{
    "ingest" => await IngestBenchmark.RunAsync(data).ConfigureAwait(false),
    "train" => TrainBenchmark.Run(data, Recipes.Default),
    "finetune" => FineTuneBenchmark.Run(args),
    "finetune-profile" => FineTuneProfile.Run(args),
    "edge" => await EdgeBenchmark.RunAsync(args).ConfigureAwait(false),
    "edge-profile" => await EdgeProfile.RunAsync(args).ConfigureAwait(false),
    "edge-ratios" => await EdgeRatiosBenchmark.RunAsync(args).ConfigureAwait(false),
    "edge-soak" => await EdgeBenchmark.SoakOnlyAsync(args).ConfigureAwait(false),
    "portal" => await PortalBenchmark.RunAsync(args).ConfigureAwait(false),
    "portal-guesses" => await PortalGuessBenchmark.RunAsync(args).ConfigureAwait(false),
    "unknown" => UnknownBenchmark.Run(args),
    "unknown-dump" => UnknownFeatureDump.Run(args),
    "unknown-explore" => UnknownExplore.Run(args),
    "unknown-views" => UnknownViews.Run(args),
    "unknown-patches" => UnknownPatches.Run(args),
    "recording-video" => RecordingVideo.Run(args),
    "levers" => LeverBenchmark.Run(args),
    "int8" => Int8Benchmark.Run(args),
    "drift" => DriftBenchmark.Run(args),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: DinoFlow.Bench ingest|train [DATA_DIR] | edge … | edge-ratios FP32_PACKAGE VIDEO [INT8_PACKAGE|DATA] [ROUNDS] | portal [IMAGES] [ANNOTATORS] [BROWSER_IMAGES] | portal-guesses [IMAGES] [FOLLOW] [SEED] | unknown [DATA_DIR] [SIZE] [VIEWS] | unknown DATA_DIR finetune [SEED] [OUTLIER_EXPOSURE] | unknown-dump DATA_DIR OUT_DIR [SEED] [OUTLIER_EXPOSURE] | unknown-explore DUMP_DIR... | unknown-views DATA_DIR DUMP_DIR | unknown-patches DATA_DIR DUMP_DIR [LAYERS] | recording-video DATA_DIR OUT.avi | drift [DATA_DIR] [PACKAGE] [LOOPS]   (default DATA_DIR: ../shared/datasets/product-boxes)");
    return 2;
}
