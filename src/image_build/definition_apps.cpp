#include "image_build/definition_apps.hpp"

#include "util/fs.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gantry::image_build {

namespace {

namespace stdfs = std::filesystem;

// Apptainer's reg ([^a-zA-Z0-9_] -> '_'): the app's name in variable names
std::string apps_var_name(const std::string& name) {
    std::string out = name;
    for (char& c : out)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    return out;
}

void apps_write(const stdfs::path& p, const std::string& content, unsigned mode) {
    stdfs::create_directories(p.parent_path());
    fs::write_atomic(p, content, mode, fs::Sync::volatile_only);
}

} // namespace

const deffile::Section* StageApps::section(const std::string& app, const std::string& kind) const {
    auto a = sections.find(app);
    if (a == sections.end()) return nullptr;
    auto k = a->second.find(kind);
    return k == a->second.end() ? nullptr : k->second;
}

StageApps stage_apps(const deffile::Stage& st) {
    StageApps apps;
    for (const auto& s : st.sections) {
        if (!s.name.starts_with("app")) continue;
        std::string app(s.args.substr(0, s.args.find('#')));
        while (!app.empty() && (app.back() == ' ' || app.back() == '\t')) app.pop_back();
        if (std::find(apps.order.begin(), apps.order.end(), app) == apps.order.end())
            apps.order.push_back(app);
        apps.sections[app][s.name.substr(3)] = &s;
    }
    return apps;
}

void write_app_files(const StageApps& apps, const stdfs::path& root, const std::string& file) {
    std::string global; // .singularity.d/env/94-appsbase.sh
    for (const auto& name : apps.order) {
        const auto base = root / "scif" / "apps" / name;
        const auto meta = base / "scif";
        for (const auto& d :
             {base / "bin", base / "lib", meta / "env", root / "scif" / "data" / name / "input",
              root / "scif" / "data" / name / "output"})
            stdfs::create_directories(d);
        apps_write(meta / "env" / "01-base.sh",
                   "#!/bin/sh\n\nSCIF_APPNAME=" + name + "\nSCIF_APPROOT=\"/scif/apps/" + name +
                       "\"\nSCIF_APPMETA=\"/scif/apps/" + name +
                       "/scif\"\nSCIF_DATA=\"/scif/data\"\nSCIF_APPDATA=\"/scif/data/" + name +
                       "\"\nSCIF_APPINPUT=\"/scif/data/" + name +
                       "/input\"\nSCIF_APPOUTPUT=\"/scif/data/" + name +
                       "/output\"\nexport SCIF_APPDATA SCIF_APPNAME SCIF_APPROOT SCIF_APPMETA "
                       "SCIF_APPINPUT SCIF_APPOUTPUT SCIF_DATA\n",
                   0755);
        if (const auto* s = apps.section(name, "env"))
            apps_write(meta / "env" / "90-environment.sh", s->body, 0755);
        for (auto [kind, script] : {std::pair{"run", "runscript"},
                                    std::pair{"start", "startscript"}, std::pair{"test", "test"}})
            if (const auto* s = apps.section(name, kind))
                apps_write(meta / script, "#!/bin/sh\n\n" + s->body + "\n", 0755);
        if (const auto* s = apps.section(name, "help"))
            apps_write(meta / "runscript.help", s->body, 0644);
        nlohmann::json labels = {{"SCIF_APP_NAME", name}};
        if (const auto* s = apps.section(name, "labels"))
            for (const auto& [k, v] : deffile::labels(*s, file)) labels[k] = v;
        apps_write(meta / "labels.json", labels.dump(1, '\t'), 0644);
        // Apptainer's globalAppEnv
        const std::string v = apps_var_name(name);
        const std::string r = "/scif/apps/" + v;
        global += "## App Global Exports For: " + v + "\n\nSCIF_APPDATA_" + v + "=/scif/data/" + v +
                  "\nSCIF_APPMETA_" + v + "=" + r + "/scif\nSCIF_APPROOT_" + v + "=" + r +
                  "\nSCIF_APPBIN_" + v + "=" + r + "/bin\nSCIF_APPLIB_" + v + "=" + r +
                  "/lib\n\nexport SCIF_APPDATA_" + v + " SCIF_APPMETA_" + v + " SCIF_APPROOT_" + v +
                  " SCIF_APPBIN_" + v + " SCIF_APPLIB_" + v + "\n";
        if (apps.section(name, "env"))
            global += "export SCIF_APPENV_" + v + "=\"" + r + "/scif/env/90-environment.sh\"\n";
        global += "export SCIF_APPLABELS_" + v + "=\"" + r + "/scif/labels.json\"\n";
        if (apps.section(name, "run"))
            global += "export SCIF_APPRUN_" + v + "=\"" + r + "/scif/runscript\"\n";
        if (apps.section(name, "start"))
            global += "export SCIF_APPSTART_" + v + "=\"" + r + "/scif/startscript\"\n";
    }
    apps_write(root / ".singularity.d" / "env" / "94-appsbase.sh", global, 0755);
}

std::string app_install_script(const std::string& name, const std::string& body) {
    return "\ncd /\n. /scif/apps/" + name + "/scif/env/01-base.sh\n\ncd /scif/apps/" + name + "\n" +
           body + "\n\ncd /\n";
}

} // namespace gantry::image_build
