// A vitest reporter for `npm test`: how long each test file took, its hooks and imports included (the JSON report
// counts a file only from its first test's start to its last test's end, so a slow afterAll never shows there).
// Writes `[{ file, project, seconds }]` to the file KEYFLOW_TEST_FILE_TIMES names; keyflow-test.mjs passes it.
import { writeFileSync } from 'node:fs';

export default class FileTimesReporter {
  times = [];

  onTestModuleEnd(testModule) {
    const d = testModule.diagnostic();
    const ms = d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration;
    this.times.push({
      file: testModule.moduleId,
      project: testModule.project.name,
      seconds: Math.round(ms / 100) / 10,
    });
  }

  onTestRunEnd() {
    const out = process.env['KEYFLOW_TEST_FILE_TIMES'];
    if (out) writeFileSync(out, JSON.stringify(this.times));
  }
}
