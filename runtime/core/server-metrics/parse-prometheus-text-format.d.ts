// parse-prometheus-text-format 1.1.1 ships no type declarations: these describe what its dist/ returns
// (prom2json-style families; every number is kept as the string the text had).
declare module 'parse-prometheus-text-format' {
  interface PrometheusTextSample {
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
    /** Histograms (le → cumulative count) and summaries (quantile → value), only for unlabelled families. */
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  interface PrometheusTextFamily {
    name: string;
    help: string;
    /** The TYPE line upper-cased (`COUNTER`, `GAUGE`, `HISTOGRAM`, `SUMMARY`), `UNTYPED` without one. */
    type: string;
    metrics: PrometheusTextSample[];
  }
  /** Throws `InvalidLineError` on a line it cannot read. */
  function parsePrometheusTextFormat(text: string): PrometheusTextFamily[];
  export default parsePrometheusTextFormat;
}
