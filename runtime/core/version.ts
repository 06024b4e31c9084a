import packageJson from '../../package.json' with { type: 'json' };

/** This project's version (package.json), recorded as the native runner's version in every run. */
export const VERSION: string = packageJson.version;
